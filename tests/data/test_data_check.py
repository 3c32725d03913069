"""check_jsonl: every dataset rule, line numbers, bytes and path input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from byom.data import ValidationReport, check_jsonl


def jsonl(*rows: Any) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def conv(*pairs: tuple[str, Any], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": r, "content": c} for r, c in pairs], **extra}


USER_ASSIST = conv(("user", "hi"), ("assistant", "hello"))
PNG = "data:image/png;base64,iVBORw0KGgo="


def assert_error(report: ValidationReport, line: int, *needles: str) -> None:
    assert not report.valid
    assert report.error_line == line
    assert report.error is not None and report.error.startswith(f"Line {line}: ")
    for needle in needles:
        assert needle in report.error, report.error


# -- formats -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "fmt"),
    [
        ({"text": "The sky is blue."}, "general"),
        (USER_ASSIST, "conversation"),
        ({"prompt": "2+2?", "completion": "4"}, "instruction"),
        (
            {
                "input": {"messages": [{"role": "user", "content": "hi"}]},
                "preferred_output": [{"role": "assistant", "content": "hello!"}],
                "non_preferred_output": [{"role": "assistant", "content": "go away"}],
            },
            "preference",
        ),
    ],
)
def test_each_format_is_detected(row: dict[str, Any], fmt: str) -> None:
    report = check_jsonl(jsonl(row, row))
    assert report.valid, report.error
    assert report.dataset_format == fmt
    assert report.nlines == 2
    wire = report.to_together()
    assert wire["dataset_format"] == fmt.upper()
    assert wire["valid"] is True and "error" not in wire and wire["nlines"] == 2


def test_wire_shape_of_an_invalid_report_has_error_type() -> None:
    wire = check_jsonl(jsonl(USER_ASSIST, "{not json")).to_together()
    assert wire["valid"] is False
    assert wire["error_type"] == "INVALID_FORMAT"
    assert wire["error"].startswith("Line 2: not valid JSON")
    assert set(wire) >= {
        "dataset_has_message_weights",
        "dataset_has_reasoning",
        "dataset_has_sample_weights",
        "dataset_has_tools",
        "dataset_is_multimodal",
        "nlines",
    }


# -- file level --------------------------------------------------------------------------------
def test_path_input_streams_and_counts_blank_lines_out(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(jsonl(USER_ASSIST, "", "   ", USER_ASSIST))
    report = check_jsonl(path)
    assert report.valid and report.nlines == 2


def test_missing_and_empty_files(tmp_path: Path) -> None:
    assert "not found" in (check_jsonl(tmp_path / "nope.jsonl").error or "")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert "empty" in (check_jsonl(tmp_path / "empty.jsonl").error or "")
    assert "no examples" in (check_jsonl(b"\n\n  \n").error or "")


def test_line_numbers_are_one_based_and_count_blank_lines() -> None:
    report = check_jsonl(jsonl(USER_ASSIST, "", USER_ASSIST, "[1, 2]"))
    assert_error(report, 4, "expected a JSON object", "list")
    assert report.nlines == 3


def test_not_utf8() -> None:
    report = check_jsonl(jsonl(USER_ASSIST) + b'{"text": "caf\xe9"}\n')
    assert_error(report, 2, "UTF-8")


def test_invalid_json_quotes_at_most_80_chars() -> None:
    report = check_jsonl(jsonl(USER_ASSIST, '{"text": "' + "x" * 500))
    assert_error(report, 2, "not valid JSON")
    assert report.error is not None and len(report.error) < 300


def test_max_lines_reported_collects_several_errors_and_keeps_counting() -> None:
    report = check_jsonl(jsonl("oops", USER_ASSIST, "oops", "oops", USER_ASSIST), max_lines_reported=2)
    assert report.error_line == 1
    assert [e.split(":")[0] for e in report.errors] == ["Line 1", "Line 3"]
    assert report.nlines == 5


def test_byte_order_mark_is_a_warning() -> None:
    report = check_jsonl(b"\xef\xbb\xbf" + jsonl(USER_ASSIST))
    assert report.valid and any("byte-order mark" in w for w in report.warnings)


# -- format rules ------------------------------------------------------------------------------
def test_one_format_per_file() -> None:
    assert_error(
        check_jsonl(jsonl(USER_ASSIST, {"text": "x"})), 2, "general format", "line 1 is conversation"
    )


def test_two_formats_on_one_line() -> None:
    assert_error(check_jsonl(jsonl({"text": "x", **USER_ASSIST})), 1, "more than one format")


def test_no_format_and_partial_formats() -> None:
    assert_error(check_jsonl(jsonl({"foo": 1})), 1, "no dataset format", "'foo'")
    assert_error(check_jsonl(jsonl({"prompt": "x"})), 1, '"completion" is missing')
    assert_error(check_jsonl(jsonl({"input": {"messages": []}})), 1, "preferred_output")


def test_text_must_be_a_non_empty_string() -> None:
    assert_error(check_jsonl(jsonl({"text": 3})), 1, '"text" must be a string')
    assert_error(check_jsonl(jsonl({"text": "  "})), 1, "empty")


# -- conversation ------------------------------------------------------------------------------
def test_roles() -> None:
    assert_error(check_jsonl(jsonl(conv(("user", "a"), ("bot", "b")))), 1, "messages[1]", "'bot'")
    assert_error(
        check_jsonl(jsonl(conv(("assistant", "a"), ("user", "b")))), 1, "start with a system or user"
    )
    assert check_jsonl(jsonl(conv(("system", "s"), ("user", "a"), ("assistant", "b")))).valid


def test_messages_must_be_a_non_empty_list_of_objects() -> None:
    assert_error(check_jsonl(jsonl({"messages": []})), 1, "non-empty list")
    assert_error(check_jsonl(jsonl({"messages": ["hi"]})), 1, "messages[0] must be an object")
    assert_error(check_jsonl(jsonl({"messages": [{"role": "user"}]})), 1, 'no "content"')


def test_fine_tune_needs_an_assistant_message_but_eval_does_not() -> None:
    row = conv(("user", "a"))
    assert_error(check_jsonl(jsonl(row)), 1, "no assistant message")
    assert check_jsonl(jsonl(row), purpose="eval").valid


def test_message_weight_is_0_or_1() -> None:
    ok = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b", "weight": 0},
            {"role": "user", "content": "c"},
            {"role": "assistant", "content": "d", "weight": 1},
        ]
    }
    report = check_jsonl(jsonl(ok))
    assert report.valid and report.has_message_weights
    bad = {
        "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "weight": 0.5}]
    }
    assert_error(check_jsonl(jsonl(bad)), 1, '"weight" must be 0 or 1')
    bad["messages"][1]["weight"] = True
    assert_error(check_jsonl(jsonl(bad)), 1, '"weight" must be 0 or 1')


def test_sample_weight_is_a_non_negative_number() -> None:
    report = check_jsonl(jsonl({**USER_ASSIST, "weight": 2.5}, {**USER_ASSIST, "weight": 0}))
    assert report.valid and report.has_sample_weights
    assert_error(check_jsonl(jsonl({"text": "x", "weight": -1})), 1, "non-negative")
    assert_error(check_jsonl(jsonl({"text": "x", "weight": "heavy"})), 1, "non-negative")


def test_tools_tool_role_and_parallel_calls_are_accepted() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    row = {
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [call, {**call, "id": "c2"}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "c2", "content": "warm"},
            {"role": "assistant", "content": "Sunny and warm."},
        ],
    }
    report = check_jsonl(jsonl(row))
    assert report.valid, report.error
    assert report.has_tools and report.has_parallel_tool_calls
    assert report.warnings == []
    assert_error(check_jsonl(jsonl({**USER_ASSIST, "tools": "f"})), 1, '"tools" must be a list')


def test_reasoning_is_noted() -> None:
    row = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b", "reasoning_content": "think"},
        ]
    }
    assert check_jsonl(jsonl(row)).has_reasoning


def test_legacy_strict_issues_are_warnings_once() -> None:
    rows = [conv(("user", f"hi {i}"), ("assistant", "hello"), source="web") for i in range(3)]
    rows.append(conv(("user", "a"), ("user", "b"), ("assistant", "c")))
    report = check_jsonl(jsonl(*rows))
    assert report.valid
    assert len(report.warnings) == 2
    assert "Line 1" in report.warnings[0] and "'source'" in report.warnings[0]
    assert "Line 4" in report.warnings[1] and "alternate" in report.warnings[1]


def test_multimodal_content() -> None:
    user = {
        "role": "user",
        "content": [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": PNG}}],
    }
    report = check_jsonl(jsonl({"messages": [user, {"role": "assistant", "content": "a cat"}]}))
    assert report.valid and report.is_multimodal
    bad_url = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/cat.png"}}]}
    assert_error(
        check_jsonl(jsonl({"messages": [bad_url, {"role": "assistant", "content": "a"}]})), 1, "data URL"
    )
    img_in_assistant = {"role": "assistant", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}
    assert_error(
        check_jsonl(jsonl({"messages": [{"role": "user", "content": "a"}, img_in_assistant]})),
        1,
        "only in user",
    )
    too_many = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}] * 11}
    assert_error(
        check_jsonl(jsonl({"messages": [too_many, {"role": "assistant", "content": "a"}]})), 1, "11 images"
    )
    weighted = {**user, "weight": 1}
    text_after = {"role": "user", "content": "and?", "weight": 1}
    assert_error(
        check_jsonl(jsonl({"messages": [weighted, {"role": "assistant", "content": "a"}]})),
        1,
        "non-zero weight",
    )
    ok = {
        "messages": [
            user,
            {"role": "assistant", "content": "a"},
            text_after,
            {"role": "assistant", "content": "b"},
        ]
    }
    assert check_jsonl(jsonl(ok)).valid
    assert_error(check_jsonl(jsonl({"messages": [{"role": "user", "content": 5}]})), 1, "string or a list")
    assert_error(
        check_jsonl(jsonl({"messages": [{"role": "user", "content": [{"type": "audio"}]}]})), 1, "type"
    )


# -- instruction and preference ----------------------------------------------------------------
def test_instruction_content_check() -> None:
    assert_error(check_jsonl(jsonl({"prompt": "a", "completion": None})), 1, "completion must be a string")


def test_preference_rules() -> None:
    good = {
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "preferred_output": [{"role": "assistant", "content": "hello"}],
        "non_preferred_output": [{"role": "assistant", "content": "no"}],
    }
    assert check_jsonl(jsonl(good)).valid
    two = {**good, "preferred_output": [{"role": "assistant", "content": "a"}] * 2}
    assert_error(check_jsonl(jsonl(two)), 1, "exactly one assistant message")
    user_out = {**good, "non_preferred_output": [{"role": "user", "content": "a"}]}
    assert_error(check_jsonl(jsonl(user_out)), 1, "non_preferred_output[0]")
    ends_assistant = {
        **good,
        "input": {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]},
    }
    assert_error(check_jsonl(jsonl(ends_assistant)), 1, "must not be from the assistant")
    assert_error(check_jsonl(jsonl({**good, "input": "hi"})), 1, '"input" must be an object')
    with_tools = {**good, "input": {**good["input"], "tools": [{"type": "function"}]}}
    assert check_jsonl(jsonl(with_tools)).has_tools


def test_a_long_file_is_streamed_and_the_last_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as f:
        for _ in range(20_000):
            f.write(jsonl(USER_ASSIST))
        f.write(b'{"messages": "oops"}\n')
    report = check_jsonl(path)
    assert_error(report, 20_001, "non-empty list")
    assert report.nlines == 20_001 and report.dataset_format == "conversation"


def test_a_control_character_is_not_reported_at_at(tmp_path) -> None:
    from byom.data import check_jsonl

    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "a\x01b"}\n')
    report = check_jsonl(path)
    assert not report.valid and report.error is not None
    assert "at at" not in report.error and "at column" in report.error


def test_an_empty_turn_is_never_fixed_by_dropping_only_that_turn() -> None:
    empty_user = check_jsonl(jsonl(conv(("user", " "), ("assistant", "an answer"))))
    fix = empty_user.problems[0].fix
    assert "remove the message" not in fix and "remove the whole example" in fix and "user's turn" in fix
    empty_answer = check_jsonl(jsonl(conv(("user", "q"), ("assistant", ""))))
    assert "remove the whole example" in empty_answer.problems[0].fix
