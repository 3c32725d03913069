"""check_file: problems with line, field, kind and fix; counts per kind; Parquet; huge lines; binary input."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from byom.data import DataReport, check_file
from byom.data._lines import iter_lines

U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}
OK = {"messages": [U, A]}


def ok(i: int) -> dict[str, Any]:
    """A clean row of its own (copies of one row are repeats: a warning)."""
    return {"messages": [{"role": "user", "content": f"question {i}"}, A]}


def jsonl(*rows: Any) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def write(tmp_path: Path, data: bytes, name: str = "train.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_valid_file_has_counts_and_no_problems(tmp_path: Path) -> None:
    data = jsonl(OK, "", ok(1), ok(2))
    report = check_file(write(tmp_path, data))
    assert report.valid and report.problems == [] and report.problem_counts == {}
    assert (report.nlines, report.blank_lines, report.bad_lines) == (3, 1, 0)
    assert report.dataset_format == "conversation" and report.file_type == "jsonl"
    assert report.nbytes == len(data)


def test_each_problem_has_line_field_kind_and_fix() -> None:
    rows = [OK, {"messages": [U, {"role": "bot", "content": "x"}]}, {"messages": [U]}, ok(1), {"text": "t"}]
    report = check_file(jsonl(*rows))
    assert not report.valid and report.bad_lines == 3
    got = [(p.line, p.field, p.kind) for p in report.problems]
    assert got == [
        (2, "messages[1].role", "bad_role"),
        (3, "messages", "no_assistant"),
        (5, None, "mixed_formats"),
    ]
    assert all(p.fix for p in report.problems)
    assert report.error is not None and report.error.startswith("Line 2: ")


def test_first_n_in_full_and_a_count_per_kind() -> None:
    rows = [OK] + ["nope"] * 30 + [{"messages": [U]}] * 5 + [{**ok(i), "source": "x"} for i in range(4)]
    report = check_file(jsonl(*rows), max_problems=3)
    errors = [p for p in report.problems if p.severity == "error"]
    assert [p.line for p in errors] == [2, 3, 4]
    assert report.problem_counts == {"json": 30, "no_assistant": 5, "unknown_key": 4}
    assert report.bad_lines == 35 and report.nlines == 40
    warnings = [p for p in report.problems if p.severity == "warning"]
    assert len(warnings) == 1 and warnings[0].line == 37  # one per kind and field


def test_the_fast_path_and_the_rules_agree_on_flags() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    row = {
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "weight": 0.5,
        "messages": [
            U,
            {"role": "assistant", "tool_calls": [call, call]},
            {"role": "tool", "content": "1"},
            {"role": "tool", "content": "2"},
            {"role": "assistant", "content": "ok", "weight": 1, "reasoning": "r"},
        ],
    }
    first_only = check_file(jsonl(row, OK, OK))  # line 1 goes through the rules, the rest the fast path
    later_only = check_file(jsonl(OK, OK, row))
    for report in (first_only, later_only):
        assert report.valid, report.problems
        assert report.has_tools and report.has_parallel_tool_calls and report.has_sample_weights
        assert report.has_message_weights and report.has_reasoning and not report.is_multimodal


def test_empty_content_is_an_error_where_it_leaves_nothing() -> None:
    report = check_file(jsonl(OK, {"messages": [U, {"role": "assistant", "content": " "}]}))
    assert [(p.line, p.kind, p.field) for p in report.problems] == [
        (2, "empty_content", "messages[1].content")
    ]
    assert check_file(jsonl({"messages": [{"role": "system", "content": ""}, U, A]})).valid


def test_instruction_and_general_rules() -> None:
    assert check_file(jsonl({"prompt": "q", "completion": "a"})).dataset_format == "instruction"
    bad = check_file(jsonl({"prompt": "q", "completion": "a"}, {"prompt": "q", "completion": ""}))
    assert bad.problems[0].kind == "empty_content" and bad.problems[0].line == 2
    assert check_file(jsonl({"text": "x"}, {"text": "x", "weight": -2})).problems[0].kind == "bad_weight"


def test_binary_input_is_not_a_data_file_not_a_crash(tmp_path: Path) -> None:
    blob = bytes(range(256)) * 64 + b"\n" + os.urandom(4096)
    report = check_file(write(tmp_path, blob, "train.jsonl"))
    assert not report.valid
    assert report.problem_counts == {"file": 1} and "a binary file" in report.problems[0].message


def test_empty_and_blank_files(tmp_path: Path) -> None:
    assert check_file(write(tmp_path, b"")).problems[0].kind == "empty_file"
    report = check_file(write(tmp_path, b"\n  \n\n"))
    assert report.problems[0].kind == "empty_file" and report.blank_lines == 3
    missing = check_file(tmp_path / "nope.jsonl")
    assert missing.problems[0].kind == "file" and not missing.valid
    assert check_file(tmp_path).problems[0].kind == "file"  # a directory


def test_a_huge_line_is_reported_and_skipped_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("byom.data._checker.MAX_LINE_BYTES", 1 << 20)
    huge = json.dumps({"text": "x" * (5 << 20)}).encode() + b"\n"
    report = check_file(write(tmp_path, jsonl(OK) + huge + jsonl(ok(1))))
    assert [(p.line, p.kind) for p in report.problems] == [(2, "line_too_long")]
    assert report.nlines == 3 and report.bad_lines == 1


def test_iter_lines_never_returns_more_than_the_cap() -> None:
    data = b"a\n" + b"y" * (3 << 20) + b"\nb\n" + b"z" * (2 << 20)  # the last line has no newline
    got = list(iter_lines(io.BytesIO(data), 1 << 20))
    assert got == [(1, b"a\n"), (2, (3 << 20) + 1), (3, b"b\n"), (4, 2 << 20)]


def test_purpose_eval_needs_no_assistant() -> None:
    assert check_file(jsonl({"messages": [U]}), purpose="eval").valid


# -- Parquet -----------------------------------------------------------------------------------
def _parquet(tmp_path: Path, columns: dict[str, list[Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "train.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def test_parquet_with_token_columns_is_valid(tmp_path: Path) -> None:
    path = _parquet(
        tmp_path,
        {
            "input_ids": [[1, 2, 3], [4, 5]],
            "attention_mask": [[1, 1, 1], [1, 1]],
            "labels": [[-100, 2, 3], [4, 5]],
        },
    )
    report: DataReport = check_file(path)
    assert report.valid and report.file_type == "parquet" and report.nlines == 2
    assert report.dataset_format == "tokenized"


def test_parquet_problems(tmp_path: Path) -> None:
    no_ids = check_file(_parquet(tmp_path, {"tokens": [[1]]}))
    assert no_ids.problems[0].field == "input_ids" and no_ids.problems[0].kind == "parquet"
    extra = check_file(_parquet(tmp_path, {"input_ids": [[1]], "text": ["a"]}))
    assert extra.problems[0].field == "text"
    short = check_file(_parquet(tmp_path, {"input_ids": [[1, 2], []], "labels": [[1], []]}))
    assert sorted((p.line, p.field) for p in short.problems) == [(1, "labels"), (2, "input_ids")]
    assert check_file(_parquet(tmp_path, {"input_ids": [[1]]}), purpose="eval").problems[0].kind == "parquet"
    not_parquet = check_file(write(tmp_path, b"PAR1 not really", "x.parquet"))
    assert not not_parquet.valid and not_parquet.problems[0].kind == "parquet"


@pytest.mark.parametrize(
    ("content", "looks"),
    [
        (
            b"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4bq9Yz\n-----END RSA PRIVATE KEY-----\n",
            "a private key",
        ),
        (b"-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----\n", "a PEM block"),
        (b"HOME=/home/me\nAWS_SECRET_ACCESS_KEY=abc\nexport X=1\nY=2\n", "shell variables"),
        (b"<html>\n<body>\n<p>hi</p>\n</body>\n", "HTML or XML"),
        (b"Dear diary,\ntoday I trained\na model\nand it worked\n", "plain text"),
    ],
)
def test_a_file_that_is_not_data_is_named_and_not_quoted(tmp_path: Path, content: bytes, looks: str) -> None:
    report = check_file(write(tmp_path, content, "train.jsonl"))
    assert not report.valid and report.problem_counts == {"file": 1}
    (problem,) = report.problems
    assert "not a JSONL data file" in problem.message and looks in problem.message
    lines = [line for line in content.decode().splitlines() if len(line) > 4]
    assert not [line for line in lines if line in problem.message]


def test_broken_json_lines_stay_data_problems_with_their_quotes(tmp_path: Path) -> None:
    rows = b"{'messages': []}\n{'messages': []}\n{'messages': []}\n{'messages': []}\n"
    report = check_file(write(tmp_path, rows, "train.jsonl"))
    assert report.problem_counts == {"json": 4} and "'messages'" in report.problems[0].message
