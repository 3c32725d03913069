"""The fast path on raw lines the JSON-dict samples of test_fast_agrees.py cannot express: duplicate keys,
escapes, invalid UTF-8, numbers out of range, non-string text, deep nesting. Never laxer than the rules."""

from __future__ import annotations

import pytest

from byom.data._checker import _slow_line
from byom.data._fast import fast_checker
from byom.data._rules import Rules

U = b'{"role": "user", "content": "hi"}'
A = b'{"role": "assistant", "content": "hello"}'
CALL = b'{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}'
PREF = b'"input": {"messages": [%s]}, "non_preferred_output": [{"role": "assistant", "content": "no"}]' % U


def conv(*msgs: bytes, extra: bytes = b"") -> bytes:
    return b'{"messages": [' + b", ".join(msgs) + b"]" + extra + b"}"


LINES: list[tuple[str, bytes]] = [
    ("clean", conv(U, A)),
    ("no spaces", b'{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}'),
    ("duplicate role", conv(b'{"role": "user", "role": "assistant", "content": "x"}', A)),
    ("duplicate messages", b'{"messages": [%s, %s], "messages": [%s]}' % (U, A, A)),
    ("duplicate content, last empty", conv(U, b'{"role": "assistant", "content": "x", "content": ""}')),
    ("invalid utf-8 in content", conv(b'{"role": "user", "content": "caf\xc3"}', A)),
    ("invalid utf-8 in system", conv(b'{"role": "system", "content": "\xff"}', U, A)),
    ("overlong utf-8", conv(U, b'{"role": "assistant", "content": "\xc0\x80x"}')),
    ("surrogate bytes", conv(U, b'{"role": "assistant", "content": "\xed\xa0\x80x"}')),
    ("lone surrogate escape", conv(U, b'{"role": "assistant", "content": "\\ud800"}')),
    ("weight 1e999", conv(U, A, extra=b', "weight": 1e999')),
    ("weight -0.0", conv(U, A, extra=b', "weight": -0.0')),
    ("message weight 1e0", conv(U, b'{"role": "assistant", "content": "x", "weight": 1e0}')),
    ("message weight null", conv(U, b'{"role": "assistant", "content": "x", "weight": null}')),
    ("escaped space first", conv(U, b'{"role": "assistant", "content": "\\u0020"}')),
    ("escaped tab then text", conv(U, b'{"role": "assistant", "content": "\\tx"}')),
    ("escaped newline only", conv(b'{"role": "user", "content": "\\n"}', A)),
    ("ideographic space only", conv(U, '{"role": "assistant", "content": "\u3000\u2003"}'.encode())),
    ("ideographic space then text", conv(U, '{"role": "assistant", "content": "\u3000x"}'.encode())),
    ("non-ascii first", conv(U, '{"role": "assistant", "content": "東京"}'.encode())),
    ("escaped non-ascii", conv(U, b'{"role": "assistant", "content": "\\u6771\\u4eac"}')),
    ("escaped key", conv(U, b'{"role": "assistant", "con\\u0074ent": ""}')),
    ("quote first", conv(U, b'{"role": "assistant", "content": "\\"q\\""}')),
    ("empty user", conv(b'{"role": "user", "content": ""}', A)),
    ("empty system", conv(b'{"role": "system", "content": ""}', U, A)),
    ("system list", conv(b'{"role": "system", "content": [{"type": "text", "text": "x"}]}', U, A)),
    (
        "tool number",
        conv(U, b'{"role": "assistant", "tool_calls": [%s]}' % CALL, b'{"role": "tool", "content": 1}', A),
    ),
    (
        "assistant null + calls",
        conv(U, b'{"role": "assistant", "content": null, "tool_calls": [%s]}' % CALL, A),
    ),
    ("assistant 0 + calls", conv(U, b'{"role": "assistant", "content": 0, "tool_calls": [%s]}' % CALL, A)),
    (
        "assistant empty + calls",
        conv(U, b'{"role": "assistant", "content": "", "tool_calls": [%s]}' % CALL, A),
    ),
    ("assistant null, no calls", conv(U, b'{"role": "assistant", "content": null}')),
    ("assistant null, empty calls", conv(U, b'{"role": "assistant", "content": null, "tool_calls": []}')),
    ("reasoning number", conv(U, b'{"role": "assistant", "content": "x", "reasoning": 1}')),
    ("reasoning null", conv(U, b'{"role": "assistant", "content": "x", "reasoning_content": null}')),
    ("user content list", conv(b'{"role": "user", "content": [{"type": "text", "text": "x"}]}', A)),
    ("deep tools", conv(U, A, extra=b', "tools": [{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}]")),
    ("two objects", conv(U, A) + conv(U, A)),
    ("trailing garbage", conv(U, A) + b" x"),
    ("bom", b"\xef\xbb\xbf" + conv(U, A)),
    ("crlf", conv(U, A) + b"\r\n"),
    ("text clean", b'{"text": "x"}'),
    ("text list", b'{"text": ["x"]}'),
    ("text escaped space", b'{"text": "\\u3000"}'),
    ("prompt number", b'{"prompt": 1, "completion": "x"}'),
    ("prompt empty", b'{"prompt": "", "completion": "x"}'),
    ("completion null", b'{"prompt": "q", "completion": null}'),
    ("preference clean", b'{%s, "preferred_output": [{"role": "assistant", "content": "yes"}]}' % PREF),
    ("preference output without role", b'{%s, "preferred_output": [{"content": "yes"}]}' % PREF),
    ("preference output user role", b'{%s, "preferred_output": [{"role": "user", "content": "yes"}]}' % PREF),
    ("preference output list", b'{%s, "preferred_output": [{"role": "assistant", "content": ["y"]}]}' % PREF),
    (
        "preference reasoning number",
        b'{%s, "preferred_output": [{"role": "assistant", "content": "y", "reasoning": 2}]}' % PREF,
    ),
]


def _rules_clean(purpose: str, raw: bytes) -> bool:
    rules = Rules(purpose)
    return _slow_line(rules, 1, raw)[0] is None and not rules.warnings


@pytest.mark.parametrize("purpose", ["fine-tune", "eval"])
@pytest.mark.parametrize(("name", "raw"), LINES, ids=[n for n, _ in LINES])
def test_the_fast_path_never_passes_a_raw_line_the_rules_flag(name: str, raw: bytes, purpose: str) -> None:
    for fmt in ("general", "conversation", "instruction", "preference"):
        check = fast_checker(fmt)
        assert check is not None
        if check(raw, purpose != "eval") is not None:
            assert _rules_clean(purpose, raw), f"fast path ({fmt}) passed {name!r}, which the rules flag"


@pytest.mark.parametrize(
    "name",
    ["clean", "no spaces", "non-ascii first", "ideographic space then text", "escaped non-ascii", "crlf"],
)
def test_the_fast_path_passes_clean_text_whatever_its_first_character(name: str) -> None:
    check = fast_checker("conversation")
    assert check is not None
    assert check(dict(LINES)[name], True) is not None
