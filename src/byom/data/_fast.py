"""The fast path: typed schemas validated in Rust (pydantic-core), then a short loop over the roles.

A line that passes here is a sample ``byom.data._rules`` accepts with no problem at all (no error, no
warning); everything else (a bad value, an extra key, images, a blank line, a BOM) fails here and goes to
the rules, which say exactly what is wrong. So this module may be stricter than the rules, never
laxer: ``tests/data/test_fast_agrees.py`` runs every sample of the rule tests through both.

Why this shape (measured, bench/data_check.py): decoding straight into typed dicts with free text as
``bytes`` (no UTF-8 → str conversion, no dicts of Any) is the cheapest validating decode available here;
``json.loads`` + hand checks and ``pydantic_core.from_json`` + hand checks both build every string.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from byom.data._report import DatasetFormat

__all__ = ["FLAG_BITS", "fast_checker"]

_CONFIG = ConfigDict(extra="forbid", strict=True, cache_strings="keys")

Text = bytes  # a JSON string decoded (and UTF-8-validated) by jiter, kept as bytes: cheaper than str
Flag01 = Annotated[int, Field(ge=0, le=1)]  # strict int: true/false and 0.5 fail (the rules reject them)
SampleWeight = Annotated[float, Field(ge=0, allow_inf_nan=False)]

# Bits of the report's flags (same order as byom.data._rules.FLAG_NAMES).
MSG_WEIGHTS, SAMPLE_WEIGHTS, TOOLS, PARALLEL, REASONING = 1, 2, 4, 8, 16
FLAG_BITS = (MSG_WEIGHTS, SAMPLE_WEIGHTS, TOOLS, PARALLEL, REASONING, 32)


@with_config(_CONFIG)
class _Function(TypedDict):
    name: str
    arguments: NotRequired[Text | dict[str, Any]]


@with_config(_CONFIG)
class _ToolCall(TypedDict):
    id: NotRequired[str]
    type: NotRequired[Literal["function"]]
    function: _Function


@with_config(_CONFIG)
class _System(TypedDict):
    role: Literal["system"]
    content: Text
    weight: NotRequired[Flag01]
    name: NotRequired[str]


@with_config(_CONFIG)
class _User(TypedDict):
    role: Literal["user"]
    content: Text
    weight: NotRequired[Flag01]
    name: NotRequired[str]


@with_config(_CONFIG)
class _Assistant(TypedDict):
    role: Literal["assistant"]
    content: NotRequired[Text | None]
    weight: NotRequired[Flag01]
    name: NotRequired[str]
    tool_calls: NotRequired[list[_ToolCall]]
    reasoning: NotRequired[Text]
    reasoning_content: NotRequired[Text]


@with_config(_CONFIG)
class _Tool(TypedDict):
    role: Literal["tool"]
    content: Text
    weight: NotRequired[Flag01]
    name: NotRequired[str]
    tool_call_id: NotRequired[str]


_Message = Annotated[_System | _User | _Assistant | _Tool, Field(discriminator="role")]
_Messages = Annotated[list[_Message], Field(min_length=1)]


@with_config(_CONFIG)
class _Conversation(TypedDict):
    messages: _Messages
    tools: NotRequired[list[dict[str, Any]]]
    weight: NotRequired[SampleWeight]


@with_config(_CONFIG)
class _General(TypedDict):
    text: Text
    weight: NotRequired[SampleWeight]


@with_config(_CONFIG)
class _Instruction(TypedDict):
    prompt: Text
    completion: Text
    weight: NotRequired[SampleWeight]


@with_config(_CONFIG)
class _Output(TypedDict):
    role: Literal["assistant"]
    content: Text
    reasoning: NotRequired[Text]
    reasoning_content: NotRequired[Text]


@with_config(_CONFIG)
class _Input(TypedDict):
    messages: _Messages
    tools: NotRequired[list[dict[str, Any]]]


_OneOutput = Annotated[list[_Output], Field(min_length=1, max_length=1)]


@with_config(_CONFIG)
class _Preference(TypedDict):
    input: _Input
    preferred_output: _OneOutput
    non_preferred_output: _OneOutput
    weight: NotRequired[SampleWeight]


def _filled(text: bytes) -> bool:
    """Non-empty after str.strip()? The first byte left by bytes.strip() decides unless it is non-ASCII."""
    s = text.strip()
    if not s:
        return False
    # bytes.strip() leaves \x1c-\x1f and Unicode spaces (U+3000, ...), which str.strip() removes.
    return 32 < s[0] < 128 or bool(s.decode().strip())


def _messages(msgs: list[dict[str, Any]], need_assistant: bool, last_not_assistant: bool) -> int | None:
    """Flags of a clean message list, or None when the rules have something to say about it."""
    if msgs[0]["role"] not in ("system", "user"):
        return None
    flags = 0
    prev = None
    seen_assistant = False
    for m in msgs:
        role = m["role"]
        if role == prev and role != "tool":
            return None  # non-alternating turns: a warning
        prev = role
        if role == "assistant":
            seen_assistant = True
            calls = m.get("tool_calls")
            content = m.get("content")
            if not calls and (content is None or not _filled(content)):
                return None
            if len(m) > 2 or calls is not None:
                if calls is not None:
                    flags |= TOOLS | (PARALLEL if len(calls) > 1 else 0)
                if "reasoning" in m or "reasoning_content" in m:
                    flags |= REASONING
                if "weight" in m:
                    flags |= MSG_WEIGHTS
        else:
            if role == "user" and not _filled(m["content"]):
                return None
            if role == "tool":
                flags |= TOOLS
            if "weight" in m:
                flags |= MSG_WEIGHTS
    if need_assistant and not seen_assistant:
        return None
    if last_not_assistant and prev == "assistant":
        return None
    return flags


def _conversation(row: dict[str, Any], need_assistant: bool) -> int | None:
    flags = _messages(row["messages"], need_assistant, False)
    if flags is None:
        return None
    return flags | (TOOLS if "tools" in row else 0) | (SAMPLE_WEIGHTS if "weight" in row else 0)


def _general(row: dict[str, Any], need_assistant: bool) -> int | None:
    if not _filled(row["text"]):
        return None
    return SAMPLE_WEIGHTS if "weight" in row else 0


def _instruction(row: dict[str, Any], need_assistant: bool) -> int | None:
    if not _filled(row["completion"]):
        return None
    return SAMPLE_WEIGHTS if "weight" in row else 0


def _preference(row: dict[str, Any], need_assistant: bool) -> int | None:
    inp = row["input"]
    flags = _messages(inp["messages"], False, True)
    if flags is None:
        return None
    for key in ("preferred_output", "non_preferred_output"):
        out = row[key][0]
        if not _filled(out["content"]):
            return None
        if len(out) > 2:
            flags |= REASONING
    return flags | (TOOLS if "tools" in inp else 0) | (SAMPLE_WEIGHTS if "weight" in row else 0)


_FORMATS: dict[DatasetFormat, tuple[type, Any]] = {
    "general": (_General, _general),
    "conversation": (_Conversation, _conversation),
    "instruction": (_Instruction, _instruction),
    "preference": (_Preference, _preference),
}
_ADAPTERS: dict[DatasetFormat, TypeAdapter[Any]] = {}


def fast_checker(fmt: DatasetFormat) -> tuple[TypeAdapter[Any], Any] | None:
    """(adapter, quick check) for a format: ``quick(adapter.validate_json(line), need_assistant)`` gives
    the line's flag bits, or None (as does a ValueError from the adapter) when the rules must look."""
    if fmt not in _FORMATS:
        return None
    model, quick = _FORMATS[fmt]
    if fmt not in _ADAPTERS:
        _ADAPTERS[fmt] = TypeAdapter(model)
    return _ADAPTERS[fmt], quick
