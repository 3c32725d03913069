"""The fast path never passes a sample the rules would flag, and gives the same flags when it passes one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from byom.data._fast import FLAG_BITS, fast_checker
from byom.data._rules import FLAG_NAMES, LineError, Rules, detect

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}
PREF_OK = {
    "input": {"messages": [U]},
    "preferred_output": [{"role": "assistant", "content": "yes"}],
    "non_preferred_output": [{"role": "assistant", "content": "no"}],
}

SAMPLES: list[Any] = [
    {"text": "The sky is blue."},
    {"text": "  "},
    {"text": "\u3000"},
    {"text": "\x1c"},
    {"text": "x", "weight": 2},
    {"text": "x", "weight": -1},
    {"text": "x", "weight": True},
    {"text": 3},
    {"text": "x", "source": "web"},
    {"prompt": "2+2?", "completion": "4"},
    {"prompt": "", "completion": "4"},
    {"prompt": "2+2?", "completion": " "},
    {"prompt": "q", "completion": None},
    {"messages": [U, A]},
    {"messages": [{"role": "system", "content": ""}, U, A]},
    {"messages": [U, {**A, "weight": 0}, U, {**A, "weight": 1}]},
    {"messages": [U, {**A, "weight": True}]},
    {"messages": [U, {**A, "weight": 1.0}]},
    {"messages": [U, {**A, "weight": 0.5}]},
    {"messages": [U, U, A]},
    {"messages": [A, U]},
    {"messages": [U]},
    {"messages": []},
    {"messages": [{"role": "user", "content": ""}, A]},
    {"messages": [U, {"role": "assistant", "content": "\u2003"}]},
    {"messages": [U, {"role": "assistant"}]},
    {"messages": [U, {"role": "assistant", "tool_calls": []}]},
    {
        "messages": [
            U,
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "content": ""},
            A,
        ]
    },
    {
        "messages": [
            U,
            {"role": "assistant", "tool_calls": [CALL, CALL]},
            {"role": "tool", "content": "1"},
            {"role": "tool", "content": "2"},
            A,
        ]
    },
    {"messages": [U, {"role": "user", "tool_calls": [CALL]}, A]},
    {"messages": [U, {**A, "reasoning": "think"}]},
    {"messages": [U, {**A, "reasoning_content": "think"}]},
    {"messages": [{**U, "reasoning": "no"}, A]},
    {"messages": [U, {**A, "extra": 1}]},
    {"messages": [U, {"role": "bot", "content": "x"}]},
    {"messages": [U, A], "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"messages": [U, A], "tools": "f"},
    {"messages": [U, A], "weight": 0.5},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}, A]},
    {"text": "x", "messages": [U, A]},
    PREF_OK,
    {**PREF_OK, "input": {"messages": [U, A]}},
    {**PREF_OK, "input": {"messages": [U], "tools": [{"type": "function"}]}},
    {**PREF_OK, "preferred_output": [{"role": "assistant", "content": ""}]},
    {**PREF_OK, "preferred_output": [{"role": "assistant", "content": "a"}] * 2},
    {**PREF_OK, "preferred_output": [{"role": "assistant", "content": "a", "reasoning": "r"}]},
    {**PREF_OK, "weight": 3},
    [1, 2],
    "oops",
]


def _rules_verdict(purpose: str, row: Any) -> tuple[bool, dict[str, bool]]:
    rules = Rules(purpose)
    try:
        rules.sample(1, row)
    except LineError:
        return False, rules.flags
    return not rules.warnings, rules.flags


@pytest.mark.parametrize("purpose", ["fine-tune", "eval"])
@pytest.mark.parametrize("row", SAMPLES, ids=lambda r: json.dumps(r)[:60])
def test_fast_path_is_never_laxer_than_the_rules(row: Any, purpose: str) -> None:
    clean, flags = _rules_verdict(purpose, row)
    try:
        fmt = detect(row) if isinstance(row, dict) else None
    except LineError:
        fmt = None
    for candidate in ("general", "conversation", "instruction", "preference"):
        check = fast_checker(candidate)
        assert check is not None
        bits = check(json.dumps(row).encode(), purpose != "eval")
        if bits is None:
            continue
        assert candidate == fmt and clean, f"fast path passed a sample the rules flag ({candidate})"
        fast_flags = {name: bool(bits & bit) for name, bit in zip(FLAG_NAMES, FLAG_BITS, strict=True)}
        assert fast_flags == flags


def test_the_fast_path_passes_the_common_shapes() -> None:
    # Not a correctness rule, a speed one: the usual samples must not all fall back to the rules.
    for row in (SAMPLES[0], SAMPLES[9], SAMPLES[13], SAMPLES[27], PREF_OK):
        check = fast_checker(detect(row))
        assert check is not None
        assert check(json.dumps(row).encode(), True) is not None, row
