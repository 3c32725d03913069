"""Repeated rows and conflicting answers: counted on every path (fast, rules, parallel), with examples, as
warnings."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from byom.data import check_file


def jsonl(*rows: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def qa(question: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        **extra,
    }


def test_repeats_and_a_conflicting_answer_are_counted_with_examples() -> None:
    # The trial's file: 46 rows, 11 distinct, one question answered two ways.
    distinct = [qa(f"question {i}", f"answer {i}") for i in range(10)] + [qa("question 0", "another answer")]
    rows = distinct + [distinct[i % 10] for i in range(35)]
    report = check_file(jsonl(*rows))
    assert report.valid and (report.duplicate_rows, report.conflicting_answers) == (35, 1)
    assert report.problem_counts == {"duplicate": 35, "conflict": 1}
    dup, conflict = report.problems
    assert (dup.kind, dup.severity, dup.line) == ("duplicate", "warning", 12)
    assert dup.message.startswith(
        "35 of 46 rows repeat an earlier row exactly (line 12 repeats line 1, line 13"
    )
    assert (conflict.kind, conflict.line) == ("conflict", 11)
    assert (
        "1 row answers a prompt an earlier row answered differently (line 11 vs line 1)" in conflict.message
    )


def test_a_fast_line_and_a_rules_line_share_their_keys() -> None:
    # The second row has an extra key, so the rules (not the fast path) read it; its prompt is still the first's.
    report = check_file(jsonl(qa("q", "a"), qa("q", "b", source="web"), {"prompt": "p", "completion": "c"}))
    assert report.conflicting_answers == 1
    instruction = check_file(
        jsonl({"prompt": "p", "completion": "c"}, {"prompt": "p", "completion": "d", "id": 2})
    )
    assert instruction.conflicting_answers == 1 and instruction.duplicate_rows == 0


def test_a_repeat_is_the_same_line_but_for_the_spaces_around_it() -> None:
    same = json.dumps(qa("q", "a")).encode()
    lines = [same, b"  " + same + b"\r", json.dumps(qa("r", "b")).encode(), same]  # the last with no newline
    report = check_file(b"\n".join(lines))
    assert report.duplicate_rows == 2 and report.problems[0].message.startswith("2 of 4 rows repeat")
    # One answer's weight differs, at the same length: not a repeat (the row key hashes the whole line).
    weighted = [qa("q", "a", weight=0.5), qa("q", "a", weight=1.5)]
    assert check_file(jsonl(*weighted)).duplicate_rows == 0


def test_a_row_with_an_error_is_not_counted() -> None:
    report = check_file(jsonl(qa("q", ""), qa("q", "")))
    assert report.duplicate_rows == 0 and "duplicate" not in report.problem_counts


def test_memory_is_capped_and_the_warning_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("byom.data._repeats.MAX_DISTINCT", 3)
    report = check_file(jsonl(*[qa(f"q{i}", "a") for i in range(6)], qa("q0", "a"), qa("q5", "a")))
    assert report.duplicate_rows == 1  # q5 came after the cap
    assert "compared with the first 3 distinct rows" in report.problems[0].message


@pytest.mark.parametrize("workers", [2, 3])
def test_the_parallel_check_counts_what_the_sequential_one_does(tmp_path: Path, workers: int) -> None:
    rows = []
    for i in range(3_000):
        q = f"question {i % 700}"
        if i % 97 == 0:
            rows.append(qa(q, f"other answer {i}", source="web"))  # the rules' path, a conflict
        elif i % 131 == 0:
            rows.append({"messages": [{"role": "user", "content": ""}]})  # an error: not counted
        else:
            rows.append(qa(q, f"answer {i % 700}"))
    path = tmp_path / "repeats.jsonl"
    path.write_bytes(jsonl(*rows))
    sequential = check_file(path, workers=1, max_problems=50)
    parallel = check_file(path, workers=workers, max_problems=50)
    assert parallel.model_dump() == sequential.model_dump()
    assert sequential.duplicate_rows > 2_000 and sequential.conflicting_answers > 10


def test_spawned_workers_count_what_the_sequential_check_does(tmp_path: Path) -> None:
    """From a threaded process (the MCP server) workers are spawned, with their own hash salt: the keys (XXH3) are
    the same in every process of the check all the same."""
    rows = [
        qa(f"q{i % 50}", f"a{i % 50}" if i % 9 else f"b{i}", **({"id": i} if i % 7 == 0 else {}))
        for i in range(600)
    ]
    path = tmp_path / "spawned.jsonl"
    path.write_bytes(jsonl(*rows))
    expected = check_file(path, workers=1).model_dump()
    seen: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: seen.append(check_file(path, workers=2).model_dump()))
    thread.start()
    thread.join()
    assert seen == [expected] and expected["conflicting_answers"] > 0 and expected["duplicate_rows"] > 0


def pair(question: str, chosen: str, rejected: str) -> dict[str, Any]:
    return {
        "input": {"messages": [{"role": "user", "content": question}]},
        "preferred_output": [{"role": "assistant", "content": chosen}],
        "non_preferred_output": [{"role": "assistant", "content": rejected}],
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_pairs_that_all_reject_one_phrase_are_a_warning_on_every_path(tmp_path: Path, workers: int) -> None:
    """The trial's DPO file: all 16 rejected answers were "I am not sure."."""
    rows = [pair(f"question {i}", f"answer {i}", "I am not sure.") for i in range(16)]
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(jsonl(*rows) * 2000)  # big enough for the parallel scan to split it
    report = check_file(path, workers=workers)
    [same] = [p for p in report.problems if p.kind == "same_rejected"]
    assert same.severity == "warning" and report.valid and report.problem_counts["same_rejected"] == 32_000
    assert same.message.startswith("all 32000 preference pairs reject the same answer (the one on line 1)")
    assert "realistic bad answer" in same.fix
    # The rules' path (TRL's layout, converted row by row) counts the same.
    trl = [{"prompt": f"q{i}", "chosen": f"a{i}", "rejected": "I am not sure."} for i in range(16)]
    assert "same_rejected" in check_file(jsonl(*trl)).problem_counts


def test_varied_rejected_answers_and_a_few_pairs_say_nothing() -> None:
    varied = [pair(f"question {i}", f"answer {i}", f"wrong answer {i}") for i in range(16)]
    assert "same_rejected" not in check_file(jsonl(*varied)).problem_counts
    few = [pair(f"question {i}", f"answer {i}", "no") for i in range(3)]
    assert "same_rejected" not in check_file(jsonl(*few)).problem_counts
