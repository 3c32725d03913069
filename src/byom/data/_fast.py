"""The fast path: each line decoded straight into typed ``msgspec.Struct`` schemas (in C), then a short loop
over the roles.

A line that passes here is a sample ``byom.data._rules`` accepts with no problem at all (no error, no
warning); everything else (a bad value, an extra key, images, a blank line, a BOM, a duplicated tag) fails
here and goes to the rules, which say exactly what is wrong. So this module may be stricter than the rules,
never laxer: ``tests/data/test_fast_agrees.py`` runs every sample of the rule tests through both, and
``tests/data/test_fast_raw_lines.py`` raw lines (duplicate keys, escapes, bad UTF-8, non-string text).

Why this shape (measured on bench/data_check.py's 200 MiB conversation JSONL, CPU seconds): msgspec's typed
decode with free text as ``str`` takes 0.8 s, nearly all of it building the strings; with free text kept as
``msgspec.Raw`` (a view of the line) 0.2 s, plus 0.25 s to check the whole line is UTF-8 (msgspec does not
for Raw) and a look at each text's first bytes. The whole check_file went from 1.2 s (pydantic-core
TypedDicts) to 0.84 s.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from byom.data._repeats import row_keys

if TYPE_CHECKING:  # the report's pydantic models are not loaded here: a worker never needs them
    from byom.data._report import DatasetFormat

__all__ = ["FLAG_BITS", "FastCheck", "fast_checker", "fast_format"]

# A bad line raises one of these: msgspec's DecodeError/ValidationError, UnicodeDecodeError (a ValueError)
# for invalid UTF-8 in a string, RecursionError for nesting past msgspec's depth limit, struct.error for a
# one-byte text (a digit: no first two bytes to read).
_REJECT = (msgspec.DecodeError, ValueError, RecursionError, struct.error)

# Free text stays raw JSON (a view into the line, checked by _is_str/_filled below): building its str is
# most of the decode's cost (measured: 0.8 s → 0.2 s for 200 MB).
Text = Raw
Flag01 = Annotated[int, Meta(ge=0, le=1)]  # strict int: true/false and 0.5 fail (the rules reject them)
# Finite: 1e999 decodes to inf, which the rules reject (msgspec's JSON has no NaN/Infinity literals).
SampleWeight = Annotated[float, Meta(ge=0, le=sys.float_info.max)]

# Bits of the report's flags (same order as byom.data._rules.FLAG_NAMES).
MSG_WEIGHTS, SAMPLE_WEIGHTS, TOOLS, PARALLEL, REASONING = 1, 2, 4, 8, 16
FLAG_BITS = (MSG_WEIGHTS, SAMPLE_WEIGHTS, TOOLS, PARALLEL, REASONING, 32)


class _Strict(Struct, forbid_unknown_fields=True, gc=False):
    """No unknown key passes (the rules warn about them). gc=False: decoded JSON holds no reference cycles,
    and untracked structs spare the collector most of its passes over a file."""


class _Function(_Strict):
    name: str
    arguments: str | dict[str, Any] | UnsetType = UNSET


class _ToolCall(_Strict):
    function: _Function
    id: str | UnsetType = UNSET
    type: Literal["function"] | UnsetType = UNSET


class _Message(_Strict, tag_field="role", kw_only=True):
    """Tagged by "role": msgspec picks the class from it and rejects a second "role" key. (kw_only: so a
    subclass may add required fields after these optional ones.)"""

    weight: Flag01 | UnsetType = UNSET
    name: str | UnsetType = UNSET


class _System(_Message, tag="system"):
    content: Text


class _User(_Message, tag="user"):
    content: Text


class _Tool(_Message, tag="tool"):
    content: Text
    tool_call_id: str | UnsetType = UNSET


class _Assistant(_Message, tag="assistant"):
    content: Text | UnsetType = UNSET  # null arrives as Raw(b"null")
    tool_calls: list[_ToolCall] | UnsetType = UNSET
    reasoning: Text | UnsetType = UNSET
    reasoning_content: Text | UnsetType = UNSET


_Messages = Annotated[list[_System | _User | _Assistant | _Tool], Meta(min_length=1)]
_Tools = list[dict[str, Any]]


class _Conversation(_Strict):
    messages: _Messages
    tools: _Tools | UnsetType = UNSET
    weight: SampleWeight | UnsetType = UNSET


class _General(_Strict):
    text: Text
    weight: SampleWeight | UnsetType = UNSET


class _Instruction(_Strict):
    prompt: Text
    completion: Text
    weight: SampleWeight | UnsetType = UNSET


class _Output(_Strict):
    role: Literal["assistant"]  # a field, not a tag: a lone tagged struct does not require its tag
    content: Text
    reasoning: Text | UnsetType = UNSET
    reasoning_content: Text | UnsetType = UNSET


class _Input(_Strict):
    messages: _Messages
    tools: _Tools | UnsetType = UNSET


_OneOutput = Annotated[list[_Output], Meta(min_length=1, max_length=1)]


class _Preference(_Strict):
    input: _Input
    preferred_output: _OneOutput
    non_preferred_output: _OneOutput
    weight: SampleWeight | UnsetType = UNSET


_QUOTE, _BACKSLASH = 0x22, 0x5C
# A raw value's first byte, and its first two as one number (little-endian: the first is the low byte), read in
# place (measured: 46 ns, where a memoryview and two indexes took 114). A one-byte value (a digit) has no pair:
# struct.error, a reject.
_first = struct.Struct("B").unpack_from
_pair = struct.Struct("<H").unpack_from
# First two bytes that settle "a string, not blank" by themselves: a quote, then visible ASCII that is not a
# quote (the end: empty) nor an escape.
_FILLED = bytearray(1 << 16)
for _c in range(33, 127):
    if _c != _QUOTE and _c != _BACKSLASH:
        _FILLED[_c << 8 | _QUOTE] = 1
_to_str = msgspec.json.Decoder(str).decode


def _is_str(value: Raw) -> bool:
    """Is this raw JSON value a string? (Raw spans the value exactly: its first byte says.)"""
    return bool(_first(value)[0] == _QUOTE)


def _filled(value: Raw) -> bool:
    """A string, non-empty after str.strip()? A quote and a visible ASCII character settle it without building
    the str; otherwise (a space, an escape, non-ASCII) decode it: strip and isspace share one table."""
    if _FILLED[_pair(value)[0]]:
        return True
    if not _is_str(value):
        return False
    text = _to_str(value)
    return text != "" and not text.isspace()


def _messages(msgs: list[Any], need_assistant: bool, last_not_assistant: bool) -> int | None:
    """Flags of a clean message list, or None when the rules have something to say about it."""
    first = msgs[0].__class__
    if first is not _System and first is not _User:
        return None
    flags = 0
    prev: type | None = None
    seen_assistant = False
    for m in msgs:
        cls = m.__class__
        if cls is prev and cls is not _Tool:
            return None  # non-alternating turns: a warning
        prev = cls
        if cls is _User:
            if not _FILLED[_pair(m.content)[0]] and not _filled(m.content):  # the common case costs no call
                return None
        elif cls is _Assistant:
            seen_assistant = True
            calls = m.tool_calls
            content = m.content
            if calls is UNSET or not calls:
                if content is UNSET:
                    return None
                if not _FILLED[_pair(content)[0]] and not _filled(content):
                    return None  # null, a list (images), a number or blank: the rules say which
            elif content is not UNSET and not _is_str(content) and bytes(content) != b"null":
                return None
            if calls is not UNSET:
                flags |= TOOLS | (PARALLEL if len(calls) > 1 else 0)
            if m.reasoning is not UNSET:
                if not _is_str(m.reasoning):
                    return None
                flags |= REASONING
            if m.reasoning_content is not UNSET:
                if not _is_str(m.reasoning_content):
                    return None
                flags |= REASONING
        else:
            if _first(m.content)[0] != _QUOTE:
                return None
            if cls is _Tool:
                flags |= TOOLS
        if m.weight is not UNSET:
            flags |= MSG_WEIGHTS
    if need_assistant and not seen_assistant:
        return None
    if last_not_assistant and prev is _Assistant:
        return None
    return flags


def _conversation(row: _Conversation, need_assistant: bool) -> int | None:
    flags = _messages(row.messages, need_assistant, False)
    if flags is None:
        return None
    return (
        flags | (TOOLS if row.tools is not UNSET else 0) | (SAMPLE_WEIGHTS if row.weight is not UNSET else 0)
    )


def _general(row: _General, need_assistant: bool) -> int | None:
    if not _filled(row.text):
        return None
    return SAMPLE_WEIGHTS if row.weight is not UNSET else 0


def _instruction(row: _Instruction, need_assistant: bool) -> int | None:
    if not _is_str(row.prompt) or not _filled(row.completion):
        return None
    return SAMPLE_WEIGHTS if row.weight is not UNSET else 0


def _preference(row: _Preference, need_assistant: bool) -> int | None:
    inp = row.input
    flags = _messages(inp.messages, False, True)
    if flags is None:
        return None
    for out in (row.preferred_output[0], row.non_preferred_output[0]):
        if not _filled(out.content):
            return None
        for extra in (out.reasoning, out.reasoning_content):
            if extra is not UNSET:
                if not _is_str(extra):
                    return None
                flags |= REASONING
    return (
        flags | (TOOLS if inp.tools is not UNSET else 0) | (SAMPLE_WEIGHTS if row.weight is not UNSET else 0)
    )


class FastCheck(Protocol):
    def __call__(self, line: bytes, need_assistant: bool, keys: list[int] | None = None, /) -> int | None: ...


_FORMATS: dict[DatasetFormat, tuple[type, Callable[[Any, bool], int | None]]] = {
    "general": (_General, _general),
    "conversation": (_Conversation, _conversation),
    "instruction": (_Instruction, _instruction),
    "preference": (_Preference, _preference),
}
_CHECKS: dict[DatasetFormat, FastCheck] = {}


def _make(fmt: DatasetFormat, model: type, quick: Callable[[Any, bool], int | None]) -> FastCheck:
    decode = msgspec.json.Decoder[Any](
        model
    ).decode  # built once per format: msgspec compiles the schema here
    keys_of = row_keys(fmt)

    def check(line: bytes, need_assistant: bool, keys: list[int] | None = None, /) -> int | None:
        try:
            row = decode(line)
            if not line.isascii():
                line.decode()  # Raw text is not UTF-8-checked by msgspec; the rules need it all valid
            bits = quick(row, need_assistant)
        except _REJECT:  # the rules will say what is wrong
            return None
        if keys is not None and bits is not None:
            keys[:] = keys_of(line, row)  # from the values just decoded: no second decode
        return bits

    return check


def fast_checker(fmt: DatasetFormat) -> FastCheck | None:
    """A check for one format: ``check(line, need_assistant[, keys])`` gives the line's flag bits, or None
    when the rules must look at it; given a ``keys`` list, it sets it to the line's hashes (byom.data._repeats)."""
    if fmt not in _FORMATS:
        return None
    if fmt not in _CHECKS:
        _CHECKS[fmt] = _make(fmt, *_FORMATS[fmt])
    return _CHECKS[fmt]


def fast_format(line: bytes, need_assistant: bool) -> DatasetFormat | None:
    """The format whose fast path passes ``line``, if one does (at most one can: each forbids the others' keys).
    Such a line is a clean sample of that format for the rules too, so a parallel check may start from it
    before the rules are loaded (``byom.data._scan.early_workers``)."""
    for fmt in _FORMATS:
        check = fast_checker(fmt)
        if check is not None and check(line, need_assistant) is not None:
            return fmt
    return None
