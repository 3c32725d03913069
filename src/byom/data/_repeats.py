"""Repeated rows and conflicting answers (one prompt, two different answers), counted with 64-bit hashes.

Hashes are XXH3-64 (``xxhash``): the same in every process, so forked and spawned workers of a parallel check
compute the keys the sequential check does, and fast (measured: 0.12 µs for a 3 KB line; Python's own ``hash()``
of a copy of the bytes made the keys 2.5x dearer, and is salted per process).

A row's keys are three hashes: the row (the whole line, stripped: exact repeats), its prompt (everything before
the trained answer: the messages before the last assistant turn, or the instruction's prompt) and that answer. A
preference pair's keys are the line, no prompt (several pairs per prompt are normal) and its rejected answer:
counted, since pairs that all reject one phrase teach only to avoid that phrase. The fast path computes them
from the values it has already decoded (``msgspec.Raw`` views of the line, so no text is built); the rules'
lines are decoded the same lax way here, so both paths give one line the same keys.

Memory stays flat: at most ``MAX_DISTINCT`` rows and prompts are remembered (about 100 bytes each); past that,
later rows are still compared with the ones remembered, and the warning says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from msgspec import UNSET, Raw, Struct, UnsetType
from xxhash import xxh3_64_intdigest

if TYPE_CHECKING:
    from byom.data._report import DatasetFormat, Problem

__all__ = ["MAX_DISTINCT", "Repeats", "keys_of_line", "row_keys"]

MAX_DISTINCT = 1 << 18
_EXAMPLES = 3
# Pairs that mostly reject one text: at least this share of the pairs, and this many pairs to say so.
_SAME_REJECTED_SHARE = 0.5
_SAME_REJECTED_MIN_PAIRS = 4
_LINE = 0xFFFFFFFF  # the low 32 bits of a remembered prompt hold its line; the high 32 its answer's hash


def _hash(data: Any) -> int:
    """XXH3-64 of the bytes (a line, or a ``msgspec.Raw`` view: no copy); never 0, which means "no key"."""
    return xxh3_64_intdigest(data) or 1


def _line_key(line: bytes) -> int:
    """The stripped line's hash (spaces and CRLF aside); a line that is "{...}" and its newline is hashed as it
    is, with no copy of it stripped (0.4 µs a 3 KB line)."""
    return _hash(line if line.startswith(b"{") and line.endswith(b"}\n") else line.strip() + b"\n")


def _conversation_keys(line: bytes, row: Any) -> tuple[int, int, int]:
    whole = _line_key(line)
    messages = row.messages
    if not _is_answer(messages[-1]):
        return whole, 0, 0
    contents = [m.content for m in messages]
    answer = contents.pop()
    if UNSET in contents:  # an assistant turn with tool calls only
        contents = [b"" if c is UNSET else c for c in contents]
    return whole, _hash(b"\x00".join(contents)), _hash(answer)


def _instruction_keys(line: bytes, row: Any) -> tuple[int, int, int]:
    return _line_key(line), _hash(row.prompt), _hash(row.completion)


def _preference_keys(line: bytes, row: Any) -> tuple[int, int, int]:
    return _line_key(line), 0, _hash(row.non_preferred_output[0].content)


def _general_keys(line: bytes, row: Any) -> tuple[int, int, int]:
    return _line_key(line), 0, 0


_KEYS = {
    "conversation": _conversation_keys,
    "instruction": _instruction_keys,
    "preference": _preference_keys,
    "general": _general_keys,
}


def row_keys(fmt: DatasetFormat) -> Callable[[bytes, Any], tuple[int, int, int]]:
    """``keys(line, row)``: the ``(row, prompt, answer)`` hashes of a decoded row of ``fmt`` (prompt and answer 0
    where the format has none); chosen once for a file (measured: 0.25 µs a row less than asking each row)."""
    return _KEYS.get(fmt, _general_keys)


_ANSWERS: dict[type, bool] = {}


def _is_answer(message: Any) -> bool:
    """An assistant message with content: a fast-path struct (its tag says the role) or a lax one (its field)."""
    if message.content is UNSET:
        return False
    cls = message.__class__
    if cls is _LaxMessage:
        return bool(message.role == "assistant")
    answer = _ANSWERS.get(cls)
    if answer is None:
        answer = _ANSWERS[cls] = cls.__struct_config__.tag == "assistant"
    return answer


class _LaxMessage(Struct, gc=False):
    role: Any = None
    content: Raw | UnsetType = UNSET


class _LaxConversation(Struct, gc=False):
    messages: list[_LaxMessage]


class _LaxInstruction(Struct, gc=False):
    prompt: Raw
    completion: Raw


class _LaxPreference(Struct, gc=False):
    non_preferred_output: list[_LaxMessage]


_LAX = {
    "conversation": msgspec.json.Decoder(_LaxConversation).decode,
    "instruction": msgspec.json.Decoder(_LaxInstruction).decode,
    "preference": msgspec.json.Decoder(_LaxPreference).decode,
}


def keys_of_line(fmt: DatasetFormat, line: bytes, row_json: bytes | None = None) -> tuple[int, int, int]:
    """The keys of a line the rules accepted (``row_json``: the row converted from another layout, as JSON)."""
    decode = _LAX.get(fmt)
    row = None
    if decode is not None:
        try:
            row = decode(row_json if row_json is not None else line)
        except (
            msgspec.DecodeError,
            ValueError,
        ):  # a shape only the rules accept (duplicate keys): the line alone
            row = None
    if isinstance(row, _LaxPreference) and (
        not row.non_preferred_output or row.non_preferred_output[0].content is UNSET
    ):
        row = None
    if row is None:  # the line alone
        return _line_key(line), 0, 0
    return row_keys(fmt)(line, row)


class Repeats:
    """Rows seen so far, in file order: counts repeats and conflicting answers, keeps a few examples of each."""

    def __init__(self) -> None:
        self.rows: dict[int, int] = {}
        self.prompts: dict[int, int] = {}
        self.duplicates = self.conflicts = 0
        self.duplicate_examples: list[tuple[int, int]] = []
        self.conflict_examples: list[tuple[int, int]] = []
        self.full = False
        self.pairs = 0
        self.rejected: dict[
            int, list[int]
        ] = {}  # a preference pair's rejected answer → [count, its first line]

    def add(self, lineno: int, row: int, prompt: int, answer: int) -> None:
        if not prompt and answer:  # a preference pair: its rejected answer
            self.pairs += 1
            counted = self.rejected.get(answer)
            if counted is not None:
                counted[0] += 1
            elif len(self.rejected) < MAX_DISTINCT:
                self.rejected[answer] = [1, lineno]
        first = self.rows.get(row)
        if first is not None:
            self.duplicates += 1
            if len(self.duplicate_examples) < _EXAMPLES:
                self.duplicate_examples.append((lineno, first))
            return
        if len(self.rows) < MAX_DISTINCT:
            self.rows[row] = lineno
        else:
            self.full = True
        if not prompt:
            return
        seen = self.prompts.get(prompt)
        if seen is None:
            if len(self.prompts) < MAX_DISTINCT:
                self.prompts[prompt] = (answer & ~_LINE) | (lineno & _LINE)
        elif seen & ~_LINE != answer & ~_LINE:
            self.conflicts += 1
            if len(self.conflict_examples) < _EXAMPLES:
                self.conflict_examples.append((lineno, seen & _LINE))

    def problems(self, nlines: int) -> list[tuple[Problem, int]]:
        """The warnings, each with how many rows it stands for."""
        limit = f" (compared with the first {MAX_DISTINCT:,} distinct rows)" if self.full else ""
        out: list[tuple[Problem, int]] = []
        if self.duplicates:
            examples = ", ".join(f"line {a} repeats line {b}" for a, b in self.duplicate_examples)
            verb = "repeats" if self.duplicates == 1 else "repeat"
            out.append(
                _warning(
                    "duplicate",
                    self.duplicates,
                    self.duplicate_examples,
                    f"{self.duplicates} of {nlines} rows {verb} an earlier row exactly",
                    examples,
                    f"{limit}: each copy trains that example once more ({nlines - self.duplicates:,} distinct rows "
                    "remain once they are removed).",
                    'Remove the repeats, unless you mean to weight those examples (a sample "weight" does that '
                    "without copies).",
                )
            )
        if self.conflicts:
            examples = ", ".join(f"line {a} vs line {b}" for a, b in self.conflict_examples)
            rows = f"{self.conflicts} row{' answers' if self.conflicts == 1 else 's answer'}"
            out.append(
                _warning(
                    "conflict",
                    self.conflicts,
                    self.conflict_examples,
                    f"{rows} a prompt an earlier row answered differently",
                    examples,
                    f"{limit}: the model is taught both answers.",
                    "Keep the answer you want for each prompt, unless the variety is meant.",
                )
            )
        same = self._same_rejected()
        if same is not None:
            out.append(same)
        return out

    def _same_rejected(self) -> tuple[Problem, int] | None:
        """A warning when at least ``_SAME_REJECTED_SHARE`` of the pairs reject the same answer text."""
        if self.pairs < _SAME_REJECTED_MIN_PAIRS or not self.rejected:
            return None
        count, line = max(self.rejected.values())
        if count < _SAME_REJECTED_SHARE * self.pairs:
            return None
        which = "all" if count == self.pairs else f"{count} of"
        # The report's models load with the rest of the checker, never in a worker (byom.data._scan).
        from byom.data._report import Problem

        problem = Problem(
            line=line,
            kind="same_rejected",
            severity="warning",
            message=f"{which} {self.pairs} preference pairs reject the same answer (the one on line {line}): DPO "
            "then only learns to avoid that one phrase, not what makes an answer worse for each prompt.",
            fix="Give each prompt a realistic bad answer of its own (plausible but wrong, unhelpful or off-topic "
            "for that prompt, e.g. a weaker model's answer), as varied as the prompts.",
        )
        return problem, count


def _warning(
    kind: Literal["duplicate", "conflict"],
    count: int,
    shown: list[tuple[int, int]],
    what: str,
    examples: str,
    tail: str,
    fix: str,
) -> tuple[Problem, int]:
    """One repeat warning: what, its examples (``…`` when more exist than are shown), why it matters, the fix."""
    more = ", …" if count > len(shown) else ""
    message = f"{what} ({examples}{more}){tail}"
    # The report's models load with the rest of the checker, never in a worker (byom.data._scan).
    from byom.data._report import Problem

    return Problem(line=shown[0][0], kind=kind, severity="warning", message=message, fix=fix), count
