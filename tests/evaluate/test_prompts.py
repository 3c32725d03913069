"""A judged evaluation's prompts (``byom.evaluate.prompts``): the last user turn and its answer, as rows both
Together's Jinja templates and the engine's ``{{column}}`` read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from byom.errors import PreflightError
from byom.evaluate.prompts import MAX_JUDGED_ROWS, prompt_file


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_conversation_and_instruction_rows_become_prompts(tmp_path: Path) -> None:
    conversation = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "one"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "two"},
        ]
    }
    no_answer = {"messages": [{"role": "user", "content": "unanswered"}]}
    src = _write(tmp_path / "val.jsonl", [conversation, no_answer, {"prompt": "p", "completion": "c"}])
    out = prompt_file(src, tmp_path / "cache")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"prompt": "second", "completion": "two"}, {"prompt": "p", "completion": "c"}]
    assert out.parent.stat().st_mode & 0o077 == 0


def test_at_most_max_judged_rows(tmp_path: Path) -> None:
    src = _write(
        tmp_path / "big.jsonl", [{"prompt": str(i), "completion": "x"} for i in range(MAX_JUDGED_ROWS + 5)]
    )
    assert len(prompt_file(src, tmp_path / "cache").read_text().splitlines()) == MAX_JUDGED_ROWS


def test_no_prompt_at_all_is_refused(tmp_path: Path) -> None:
    src = _write(tmp_path / "text.jsonl", [{"text": "just prose"}])
    with pytest.raises(PreflightError, match="No row of text.jsonl has a user prompt"):
        prompt_file(src, tmp_path / "cache")


def test_preference_pairs_become_prompts_with_the_chosen_answer(tmp_path: Path) -> None:
    """DPO data is judged with method='compare': each pair's prompt is asked, its chosen answer the reference."""
    pair = {
        "input": {"messages": [{"role": "user", "content": "capital of France?"}]},
        "preferred_output": [{"role": "assistant", "content": "Paris."}],
        "non_preferred_output": [{"role": "assistant", "content": "I am not sure."}],
    }
    out = prompt_file(_write(tmp_path / "pairs.jsonl", [pair]), tmp_path / "cache")
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"prompt": "capital of France?", "completion": "Paris."}
    ]
