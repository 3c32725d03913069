"""Layouts that are not Together's (TRL, ShareGPT, Alpaca, Dolly, question/answer): named, one row shown
converted, a converted copy written on request; ``method`` shapes the fixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from byom.data import check_file, check_training_file, render_data_check
from byom.errors import PreflightError


def jsonl(*rows: Any) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def bot(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


def pair(prompt: list[dict[str, str]], chosen: str, rejected: str) -> dict[str, Any]:
    return {
        "input": {"messages": prompt},
        "preferred_output": [bot(chosen)],
        "non_preferred_output": [bot(rejected)],
    }


CASES = [
    ("trl_preference", {"prompt": "2+2?", "chosen": "4", "rejected": "5"}, pair([user("2+2?")], "4", "5")),
    (
        "trl_preference",
        {
            "prompt": [{"role": "system", "content": "Be brief."}, user("2+2?")],
            "chosen": [bot("4")],
            "rejected": [bot("5")],
        },
        pair([{"role": "system", "content": "Be brief."}, user("2+2?")], "4", "5"),
    ),
    (
        "trl_implicit_preference",
        {"chosen": [user("2+2?"), bot("4")], "rejected": [user("2+2?"), bot("5")]},
        pair([user("2+2?")], "4", "5"),
    ),
    (
        "trl_prompt_completion",
        {"prompt": [user("2+2?")], "completion": [bot("4")]},
        {"messages": [user("2+2?"), bot("4")]},
    ),
    (
        "sharegpt",
        {
            "conversations": [
                {"from": "system", "value": "Be brief."},
                {"from": "human", "value": "2+2?"},
                {"from": "gpt", "value": "4"},
            ]
        },
        {"messages": [{"role": "system", "content": "Be brief."}, user("2+2?"), bot("4")]},
    ),
    (
        "sharegpt_preference",
        {
            "conversations": [{"from": "human", "value": "2+2?"}],
            "chosen": {"from": "gpt", "value": "4"},
            "rejected": {"from": "gpt", "value": "5"},
        },
        pair([user("2+2?")], "4", "5"),
    ),
    (
        "alpaca",
        {"instruction": "Add the numbers.", "input": "2 and 2", "output": "4"},
        {"messages": [user("Add the numbers.\n\n2 and 2"), bot("4")]},
    ),
    (
        "alpaca",
        {"instruction": "Say hi.", "input": "", "output": "hi"},
        {"messages": [user("Say hi."), bot("hi")]},
    ),
    (
        "dolly",
        {
            "instruction": "Summarise.",
            "context": "A long text.",
            "response": "Short.",
            "category": "summarization",
        },
        {"messages": [user("Summarise.\n\nA long text."), bot("Short.")]},
    ),
    ("question_answer", {"question": "2+2?", "answer": "4"}, {"messages": [user("2+2?"), bot("4")]}),
]


@pytest.mark.parametrize(
    ("layout", "row", "together"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_layout_is_named_with_its_exact_conversion(
    layout: str, row: dict[str, Any], together: dict[str, Any]
) -> None:
    report = check_file(jsonl(row))
    assert not report.valid and report.bad_lines == 0
    assert report.conversion is not None
    assert (report.conversion.layout, report.conversion.line) == (layout, 1)
    assert report.conversion.row == row and report.conversion.converted == together
    assert [p.kind for p in report.problems] == ["layout"]
    assert "write_converted" in report.problems[0].fix


def test_trl_preference_pairs_are_not_a_broken_instruction_file() -> None:
    rows = [{"prompt": f"q{i}", "chosen": "good", "rejected": f"bad {i}"} for i in range(24)]
    for method in (None, "dpo"):
        report = check_file(jsonl(*rows), method=method)  # type: ignore[arg-type]
        text = " ".join(p.message + " " + p.fix for p in report.problems)
        assert "completion" not in text and "TRL preference" in text and "both answers kept" in text
        assert report.problem_counts == {"layout": 1}


def test_a_partial_preference_row_names_what_is_missing() -> None:
    report = check_file(jsonl({"prompt": "q", "chosen": "good"}))
    assert report.problems[0].field == "rejected"
    assert "rejected is missing" in report.problems[0].message and "completion" not in report.problems[0].fix


def test_with_dpo_the_fixes_speak_of_preference_pairs() -> None:
    only_prompt = check_file(jsonl({"prompt": "q"}), method="dpo").problems[0]
    assert "preference pairs" in only_prompt.message and '"chosen"' in only_prompt.fix
    assert "preferred_output" in only_prompt.fix
    sft_file = check_file(jsonl({"prompt": "q", "completion": "a"}), method="dpo")
    assert not sft_file.valid and sft_file.problems[0].kind == "method"
    assert "DPO trains on preference pairs" in sft_file.problems[0].message
    pairs = jsonl(pair([user("q")], "a", "b"))
    assert check_file(pairs, method="dpo").valid
    assert check_file(pairs, method="sft").problems[0].kind == "method"
    assert check_file(pairs).valid  # no method: no opinion


def test_a_converted_row_breaking_togethers_rules_says_so_in_both_terms() -> None:
    row = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": ""}]}
    report = check_file(jsonl(row))
    error = next(p for p in report.problems if p.severity == "error" and p.line == 1)
    assert error.message.startswith(
        "converted to Together's conversation format, messages[1].content is empty"
    )
    bad_speaker = check_file(jsonl({"conversations": [{"from": "robot", "value": "q"}]})).problems[1]
    assert bad_speaker.field == "conversations[0].from" and "human, gpt and system" in bad_speaker.message


def test_one_layout_per_file() -> None:
    report = check_file(jsonl({"question": "q", "answer": "a"}, {"messages": [user("q"), bot("a")]}))
    mixed = next(p for p in report.problems if p.kind == "mixed_formats")
    assert mixed.line == 2 and "question_answer" in mixed.message


def test_together_files_have_no_conversion() -> None:
    report = check_file(jsonl({"messages": [user("q"), bot("a")]}))
    assert report.valid and report.conversion is None and report.problems == []


# -- the converted copy --------------------------------------------------------------------------
TRL = [
    {"prompt": "2+2?", "chosen": "4", "rejected": "5"},
    "",
    {"prompt": [user("Capital of France?")], "chosen": [bot("Paris")], "rejected": [bot("Lyon")]},
]


def test_the_converted_copy_is_written_and_checked_like_any_other(tmp_path: Path) -> None:
    source = tmp_path / "trl.jsonl"
    source.write_bytes(original := jsonl(*TRL))
    source.chmod(0o644)
    target = tmp_path / "together.jsonl"
    check = check_training_file(source, write_converted=target, method="dpo")
    assert source.read_bytes() == original  # never touched
    assert target.stat().st_mode & 0o777 == 0o644  # the original's permissions, not the temp file's 0600
    lines = target.read_text().splitlines()
    assert json.loads(lines[0]) == pair([user("2+2?")], "4", "5") and lines[1] == ""  # line numbers kept
    assert json.loads(lines[2]) == pair([user("Capital of France?")], "Paris", "Lyon")
    assert (
        check.file == "together.jsonl" and check.report.valid and check.report.dataset_format == "preference"
    )
    assert check.converted is not None
    assert (check.converted.layout, check.converted.rows, check.converted.source) == (
        "trl_preference",
        2,
        "trl.jsonl",
    )
    assert "Wrote 2 rows converted from the TRL preference" in render_data_check(check)
    again = check_training_file(source, write_converted=target)  # the same content: allowed
    assert again.report.valid


def test_the_converted_copy_never_replaces_another_file(tmp_path: Path) -> None:
    source = tmp_path / "trl.jsonl"
    source.write_bytes(jsonl(*TRL))
    other = tmp_path / "other.jsonl"
    other.write_text("mine\n")
    with pytest.raises(PreflightError, match="already exists with other content"):
        check_training_file(source, write_converted=other)
    assert other.read_text() == "mine\n"
    with pytest.raises(PreflightError, match="replace the original"):
        check_training_file(source, write_converted=source)
    with pytest.raises(PreflightError, match=".jsonl"):
        check_training_file(source, write_converted=tmp_path / "out.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.jsonl", "trl.jsonl"]  # no part file left


def test_a_row_that_does_not_convert_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "trl.jsonl"
    source.write_bytes(jsonl(TRL[0], {"prompt": "q", "chosen": [bot("a"), bot("b")], "rejected": "c"}))
    with pytest.raises(
        PreflightError, match='Line 2 cannot be converted: "chosen" must be one assistant answer'
    ):
        check_training_file(source, write_converted=tmp_path / "out.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trl.jsonl"]


def test_a_together_file_is_not_converted(tmp_path: Path) -> None:
    source = tmp_path / "ok.jsonl"
    source.write_bytes(jsonl({"messages": [user("q"), bot("a")]}))
    check = check_training_file(source, write_converted=tmp_path / "out.jsonl")
    assert check.converted is None and not (tmp_path / "out.jsonl").exists()
    assert "already Together's conversation format" in check.notes[0]


def test_a_file_whose_rows_all_fail_to_convert_says_which_line(tmp_path: Path) -> None:
    source = tmp_path / "sharegpt.jsonl"
    source.write_bytes(jsonl({"conversations": [{"from": "robot", "value": "q"}]}))
    with pytest.raises(
        PreflightError, match="Line 1 cannot be converted: conversations\\[0\\] is from 'robot'"
    ):
        check_training_file(source, write_converted=tmp_path / "out.jsonl")
