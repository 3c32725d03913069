"""Layouts people bring that are not Together's, each with the exact conversion of a row into Together's format.

Recognised (by keys, checked before Together's own formats only for TRL's conversational prompt/completion):

- TRL preference (``prompt``/``chosen``/``rejected``, strings or lists of messages; or ``chosen``/``rejected``
  conversations sharing their prompt: TRL's "implicit prompt") → Together preference
  (https://huggingface.co/docs/trl/dataset_formats#preference)
- TRL conversational prompt/completion (both lists of messages) → Together conversation
- ShareGPT (``conversations`` of ``from``/``value``: human, gpt, system; LLaMA-Factory's optional ``system``
  and its ``chosen``/``rejected`` preference variant) → Together conversation / preference
  (https://github.com/hiyouga/LLaMA-Factory/blob/main/data/README.md)
- Alpaca (``instruction``, optional ``input``, ``output``, LLaMA-Factory's ``system`` and ``history``) and Dolly
  (``instruction``, optional ``context``, ``response``) → Together conversation, the input after the instruction
- ``question``/``answer`` (GSM8K, many QA sets) → Together conversation

A row whose shape does not fit its layout raises ``LineError`` in the layout's own terms; the converted row then
goes through Together's rules like any other.
"""

from __future__ import annotations

import filecmp
import json
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from byom.data._report import DatasetFormat
from byom.data._rules import FORMAT_KEYS, LineError, quote
from byom.errors import PreflightError

__all__ = ["LAYOUTS", "Layout", "recognise", "write_converted"]

Row = dict[str, Any]


@dataclass(frozen=True)
class Layout:
    id: str
    name: str
    keys: tuple[str, ...]  # all present → this layout (first match in LAYOUTS order)
    target: DatasetFormat
    convert: Callable[[Row], Row]


def _str(row: Row, key: str, *, optional: bool = False) -> str:
    value = row.get(key)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise LineError("wrong_type", key, f'"{key}" must be a string, got {quote(value)}.', "")
    return value


def _messages(value: Any, where: str) -> list[Row]:
    """A list of ``{"role", "content"}`` messages, copied (extra message keys kept: Together's rules judge them)."""
    if not isinstance(value, list) or not all(isinstance(m, dict) and "role" in m for m in value):
        raise LineError(
            "wrong_type",
            where,
            f'"{where}" must be a string or a list of {{"role": ..., "content": ...}} messages, got {quote(value)}.',
            "",
        )
    return [dict(m) for m in value]


def _one_answer(value: Any, where: str) -> list[Row]:
    """A preference side: one assistant message (a string, or a list holding exactly one assistant message)."""
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    msgs = _messages(value, where)
    if len(msgs) != 1 or msgs[0].get("role") != "assistant":
        raise LineError(
            "preference",
            where,
            f'"{where}" must be one assistant answer; got {len(msgs)} message(s) with roles '
            f"{', '.join(quote(m.get('role')) for m in msgs[:4])}.",
            "Put the shared turns in the prompt and only the final assistant answer in chosen and rejected.",
        )
    return msgs


def _preference(prompt: list[Row], chosen: list[Row], rejected: list[Row]) -> Row:
    return {"input": {"messages": prompt}, "preferred_output": chosen, "non_preferred_output": rejected}


def _trl_preference(row: Row) -> Row:
    prompt = row["prompt"]
    messages = (
        [{"role": "user", "content": prompt}] if isinstance(prompt, str) else _messages(prompt, "prompt")
    )
    return _preference(
        messages, _one_answer(row["chosen"], "chosen"), _one_answer(row["rejected"], "rejected")
    )


def _trl_implicit(row: Row) -> Row:
    chosen, rejected = _messages(row["chosen"], "chosen"), _messages(row["rejected"], "rejected")
    if len(chosen) < 2 or chosen[:-1] != rejected[:-1]:
        raise LineError(
            "preference",
            "rejected",
            "chosen and rejected must be the same conversation up to their last (assistant) message.",
            'Give the shared turns as "prompt" and only the final answers in chosen and rejected.',
        )
    return _preference(
        chosen[:-1], _one_answer(chosen[-1:], "chosen"), _one_answer(rejected[-1:], "rejected")
    )


def _trl_prompt_completion(row: Row) -> Row:
    out: Row = {"messages": _messages(row["prompt"], "prompt") + _messages(row["completion"], "completion")}
    return out


_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


def _sharegpt_turns(value: Any, where: str) -> list[Row]:
    if not isinstance(value, list) or not value:
        raise LineError(
            "wrong_type", where, f'"{where}" must be a non-empty list of turns, got {quote(value)}.', ""
        )
    turns = []
    for i, turn in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(turn, dict):
            raise LineError(
                "wrong_type", at, f'{at} must be {{"from": ..., "value": ...}}, got {quote(turn)}.', ""
            )
        speaker = turn.get("from", turn.get("role"))
        role = _SHAREGPT_ROLES.get(speaker) if isinstance(speaker, str) else None
        if role is None:
            raise LineError(
                "bad_role",
                f"{at}.from",
                f"{at} is from {quote(speaker)}; the conversion knows human, gpt and system.",
                "Rename the speaker, or convert tool turns (function_call, observation) to Together's tool "
                "messages by hand.",
            )
        turns.append({"role": role, "content": turn.get("value", turn.get("content"))})
    return turns


def _sharegpt(row: Row) -> Row:
    system = _str(row, "system", optional=True)
    head = [{"role": "system", "content": system}] if system else []
    return {"messages": head + _sharegpt_turns(row["conversations"], "conversations")}


def _sharegpt_preference(row: Row) -> Row:
    prompt = _sharegpt(row)["messages"]
    sides = []
    for key in ("chosen", "rejected"):
        turn = row[key]
        sides.append(_one_answer(_sharegpt_turns([turn] if isinstance(turn, dict) else turn, key), key))
    return _preference(prompt, sides[0], sides[1])


def _ask(instruction: str, extra: str) -> str:
    return f"{instruction}\n\n{extra}" if extra.strip() else instruction


def _alpaca(row: Row) -> Row:
    system = _str(row, "system", optional=True)
    messages: list[Row] = [{"role": "system", "content": system}] if system else []
    history = row.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in history
    ):
        raise LineError(
            "wrong_type",
            "history",
            f'"history" must be a list of [question, answer] pairs, got {quote(history)}.',
            "",
        )
    for question, answer in history:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    user = _ask(_str(row, "instruction"), _str(row, "input", optional=True))
    return {
        "messages": [
            *messages,
            {"role": "user", "content": user},
            {"role": "assistant", "content": _str(row, "output")},
        ]
    }


def _dolly(row: Row) -> Row:
    user = _ask(_str(row, "instruction"), _str(row, "context", optional=True))
    return {
        "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": _str(row, "response")},
        ]
    }


def _question_answer(row: Row) -> Row:
    return {
        "messages": [
            {"role": "user", "content": _str(row, "question")},
            {"role": "assistant", "content": _str(row, "answer")},
        ]
    }


LAYOUTS = (
    Layout(
        "sharegpt_preference",
        "ShareGPT preference (conversations/chosen/rejected)",
        ("conversations", "chosen", "rejected"),
        "preference",
        _sharegpt_preference,
    ),
    Layout(
        "trl_preference",
        "TRL preference (prompt/chosen/rejected)",
        ("prompt", "chosen", "rejected"),
        "preference",
        _trl_preference,
    ),
    Layout(
        "trl_implicit_preference",
        "TRL preference with an implicit prompt (chosen/rejected conversations)",
        ("chosen", "rejected"),
        "preference",
        _trl_implicit,
    ),
    Layout(
        "trl_prompt_completion",
        "TRL conversational prompt/completion (lists of messages)",
        ("prompt", "completion"),
        "conversation",
        _trl_prompt_completion,
    ),
    Layout(
        "sharegpt", "ShareGPT (conversations with from/value)", ("conversations",), "conversation", _sharegpt
    ),
    Layout("alpaca", "Alpaca (instruction/input/output)", ("instruction", "output"), "conversation", _alpaca),
    Layout(
        "dolly", "Dolly (instruction/context/response)", ("instruction", "response"), "conversation", _dolly
    ),
    Layout("question_answer", "question/answer", ("question", "answer"), "conversation", _question_answer),
)


def recognise(row: Row) -> Layout | None:
    """The layout of a row that is not in one of Together's formats (None for Together's own, or no match)."""
    together = [f for f, keys in FORMAT_KEYS.items() if all(k in row for k in keys)]
    for layout in LAYOUTS:
        if all(k in row for k in layout.keys):
            if together and layout.id != "trl_prompt_completion":
                return None
            if layout.id == "trl_prompt_completion" and not (
                isinstance(row["prompt"], list)
                and isinstance(row["completion"], list)
                and all(isinstance(m, dict) and "role" in m for m in row["prompt"] + row["completion"])
            ):
                continue  # strings (or content parts): Together's own instruction format
            return layout
    return None


def write_converted(source: Path, target: Path) -> tuple[Layout, int]:
    """Write ``source``'s rows converted into Together's format to ``target`` (blank lines kept, so line numbers
    match); ``source`` is only read. Refuses to replace a ``target`` that exists with other content.

    Returns the layout and the number of rows written; ``PreflightError`` says why nothing was written."""
    if target.suffix.lower() != ".jsonl":
        raise PreflightError(
            f"The converted copy must be a .jsonl file, not {target.name}. Pick a path ending in .jsonl."
        )
    if not target.parent.is_dir():
        raise PreflightError(
            f"The folder for the converted copy does not exist: {target.parent}. Create it or pick another."
        )
    if target.exists() and target.resolve() == source.resolve():
        raise PreflightError(
            "The converted copy would replace the original. Pick another path; the original stays."
        )
    layout: Layout | None = None
    rows = 0
    part = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, linked into place or removed
        "wb", dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    )
    try:
        with part, source.open("rb") as lines:
            for lineno, raw in enumerate(lines, 1):
                if not raw.strip():
                    part.write(b"\n")
                    continue
                layout = _convert_line(lineno, raw, layout, part)
                rows += 1
        if layout is None:
            raise PreflightError(f"{source.name} has no rows to convert. Add rows, one JSON object per line.")
        # The copy is the user's data as much as the original: the same permissions (a temp file is 0600).
        os.chmod(part.name, stat.S_IMODE(source.stat().st_mode))
        _put(Path(part.name), target)
    finally:
        Path(part.name).unlink(missing_ok=True)
    return layout, rows


def _convert_line(lineno: int, raw: bytes, layout: Layout | None, out: IO[bytes]) -> Layout:
    try:
        row = json.loads(raw.removeprefix(b"\xef\xbb\xbf"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise PreflightError(
            f"Line {lineno} is not valid JSON, so it cannot be converted. Fix it first (the check names the "
            "problem); nothing was written."
        ) from None
    found = recognise(row) if isinstance(row, dict) else None
    if found is None or (layout is not None and found is not layout):
        expected = layout.name if layout is not None else "a layout byom converts"
        raise PreflightError(
            f"Line {lineno} is not in {expected}, so the file cannot be converted as one. Fix that line first; "
            "nothing was written."
        )
    try:
        converted = found.convert(row)
    except LineError as exc:
        raise PreflightError(
            f"Line {lineno} cannot be converted: {exc.message} {exc.fix} Nothing was written.".replace(
                "  ", " "
            )
        ) from None
    out.write(json.dumps(converted, ensure_ascii=False).encode() + b"\n")
    return found


def _put(part: Path, target: Path) -> None:
    """``part`` becomes ``target``, unless ``target`` exists: then it must already hold the same bytes."""
    try:
        os.link(part, target)  # fails if target exists: never replaces a file
    except FileExistsError:
        if filecmp.cmp(part, target, shallow=False):
            return
        raise PreflightError(
            f"{target} already exists with other content. Pick a new path, or remove that file yourself first."
        ) from None
    except OSError as exc:
        raise PreflightError(
            f"The converted copy could not be written to {target} ({exc.strerror or type(exc).__name__}). Check "
            "the folder's permissions."
        ) from None
