"""Token statistics and the loss preview, with the tiny Llama's tokenizer and chat template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from byom.data import (
    IGNORE,
    PreviewRow,
    Unrenderable,
    file_token_stats,
    iter_rows,
    preview,
    preview_row,
    token_stats,
)
from byom.data import _tokens as tokens
from byom.data._tokens import SPAN_CLOSE, SPAN_OPEN
from byom.errors import ChatTemplateError

CONV = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What do bees make?"},
        {"role": "assistant", "content": "Honey."},
    ]
}


@pytest.fixture(scope="module")
def tok(tiny_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_preview_row_has_together_shape_and_marks_the_assistant_turn(tok: Any) -> None:
    row = preview_row(tok, CONV, max_seq_length=512)
    wire = PreviewRow.model_validate(row.together().model_dump())  # extra="forbid": exactly Together's keys
    assert set(wire.model_dump()) == {
        "input_ids",
        "labels",
        "num_tokens",
        "num_trained_tokens",
        "tokens",
        "trained_spans",
        "truncated",
    }
    assert row.num_tokens == len(row.input_ids) == len(row.tokens) == len(row.labels)
    assert not row.truncated and row.notes == []
    assert row.num_trained_tokens == sum(1 for x in row.labels if x != IGNORE)
    for start, end in row.trained_spans:
        assert all(row.labels[i] == row.input_ids[i] for i in range(start, end))
    assert f"{SPAN_OPEN}Honey.<|eos|>" in row.rendered
    assert "What do bees make?" in row.rendered and SPAN_OPEN + "What" not in row.rendered


def test_train_on_inputs_trains_every_turn(tok: Any) -> None:
    row = preview_row(tok, CONV, max_seq_length=512, train_on_inputs=True)
    assert row.num_trained_tokens > preview_row(tok, CONV, max_seq_length=512).num_trained_tokens
    assert f"{SPAN_OPEN}" in row.rendered.split("What")[0]


def test_truncation_is_flagged_and_can_leave_nothing_to_learn(tok: Any) -> None:
    row = preview_row(tok, CONV, max_seq_length=6)
    assert row.truncated and row.num_tokens == 6 and row.num_trained_tokens == 0
    assert any("Truncated" in n and "Nothing is left" in n for n in row.notes)


def test_a_template_without_eos_after_the_assistant_turn_is_flagged(tok: Any) -> None:
    saved = tok.chat_template
    tok.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    try:
        row = preview_row(tok, CONV, max_seq_length=512)
    finally:
        tok.chat_template = saved
    assert any("EOS" in n and "never stop" in n for n in row.notes), row.notes


def test_a_template_that_drops_the_system_role_is_flagged(tok: Any) -> None:
    saved = tok.chat_template
    tok.chat_template = (
        "{% for m in messages %}{% if m['role'] != 'system' %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content']"
        " + '<|eos|>\\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    )
    try:
        row = preview_row(tok, CONV, max_seq_length=512)
    finally:
        tok.chat_template = saved
    assert any("dropped or rewrote message 0 (system)" in n for n in row.notes), row.notes
    assert any("never writes the role 'system'" in n for n in row.notes)


def test_instruction_and_text_rows_preview_with_eos(tok: Any) -> None:
    inst = preview_row(tok, {"prompt": "Q?", "completion": " A."}, max_seq_length=64)
    assert inst.rendered.endswith(f"{SPAN_OPEN} A.<|eos|>{SPAN_CLOSE}")
    text = preview_row(tok, {"text": "The sky."}, max_seq_length=64)
    assert text.num_trained_tokens == text.num_tokens


def test_preview_takes_top_k_rows(tok: Any) -> None:
    assert len(preview([CONV] * 5, tok, max_seq_length=64, top_k=2)) == 2


def test_token_stats(tok: Any, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    short = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    long = {"messages": [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]}
    import json

    path.write_text("\n".join(json.dumps(r) for r in [short, short, short, long]) + "\n")
    stats = token_stats(tok, iter_rows(path), max_seq_length=64)
    assert stats.samples == 4 and stats.min < 64 < stats.max
    assert stats.p95 == stats.max and stats.over_max_seq_length == 1
    assert stats.no_trained_tokens == 1  # the long one loses its answer to truncation
    assert stats.total_tokens == 3 * stats.min + stats.max
    empty = token_stats(tok, [], max_seq_length=64)
    assert empty.samples == 0 and empty.mean == 0


def test_processed_tokens_are_what_the_trainer_reads(tok: Any, tmp_path: Path) -> None:
    """After truncation, without the rows training drops (nothing left to learn, weight 0): the same count as the
    trainer's examples, so the check's tokens per epoch × epochs is the job's token_count."""
    import json

    from byom.engine.trainer._tokenize import load_examples

    path = tmp_path / "t.jsonl"
    short = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    cut = {"messages": [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "ok"}]}
    long_answer = {
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "word " * 200}]
    }
    skipped = {**short, "weight": 0}
    path.write_text("\n".join(json.dumps(r) for r in [short, cut, long_answer, skipped]) + "\n")
    stats = token_stats(tok, iter_rows(path), max_seq_length=64)
    examples, dropped = load_examples(tok, path, train_on_inputs="auto", max_seq_length=64)
    assert dropped == stats.no_trained_tokens == 2
    assert stats.processed_tokens == sum(len(e.input_ids) for e in examples) < stats.total_tokens
    assert stats.trained_tokens == sum(e.n_label_tokens for e in examples)


def test_a_row_the_template_cannot_render_stops_the_count_as_training_would(tok: Any) -> None:
    """Without ``unrenderable`` (the plan's count, the engine's): a ChatTemplateError naming the row; with it
    (the data check): the row is counted there and the statistics are of the others."""
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    call = {"type": "function", "function": {"name": "w", "arguments": "{}"}}
    bare = {"messages": [{"role": "user", "content": "w?"}, {"role": "assistant", "tool_calls": [call]}]}
    with pytest.raises(ChatTemplateError, match="cannot render this row") as caught:
        token_stats(tok, [good, good, bare], max_seq_length=64)
    assert caught.value.sample == 2
    skipped = Unrenderable()
    stats = token_stats(tok, [good, bare, good], max_seq_length=64, unrenderable=skipped)
    assert stats.samples == 2 and skipped.count == 1 and skipped.first[0][0] == 1
    [shown] = preview([bare, good], tok, max_seq_length=64)
    assert shown.num_tokens == token_stats(tok, [good], max_seq_length=64).total_tokens
    assert shown.notes[0].startswith(
        "1 row(s) before this one are not shown: The model's chat template cannot"
    )
    with pytest.raises(ChatTemplateError):  # nothing renders: the reason, not an empty preview
        preview([bare, bare], tok, max_seq_length=64)


def test_a_bigger_files_statistics_come_from_every_kth_row_scaled_to_the_file(
    tok: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over STATS_ROWS rows: 1 row in every k is tokenized and the counts scaled (the 90k-pair file: 36 s → 3 s);
    at or under it, every row, exactly as token_stats counts them."""

    def row(i: int) -> dict[str, Any]:
        return {
            "messages": [
                {"role": "user", "content": "q" * (i % 7 + 1)},
                {"role": "assistant", "content": "a"},
            ]
        }

    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row(i)) + "\n" + ("\n" if i == 3 else "") for i in range(100)))
    exact = token_stats(tok, iter_rows(path), max_seq_length=64)
    assert file_token_stats(tok, path, max_seq_length=64) == exact  # 100 rows, under STATS_ROWS

    monkeypatch.setattr(tokens, "STATS_ROWS", 10)
    sampled = file_token_stats(tok, path, max_seq_length=64)
    assert sampled.sampled_every == 10 and sampled.samples == 100
    assert sampled == file_token_stats(tok, path, max_seq_length=64)  # the same figures every time
    of_rows = token_stats(tok, [row(i) for i in range(0, 100, 10)], max_seq_length=64)
    assert sampled.total_tokens == of_rows.total_tokens * 10 and sampled.max == of_rows.max
    assert abs(sampled.total_tokens - exact.total_tokens) / exact.total_tokens < 0.1

    call = {"type": "function", "function": {"name": "w", "arguments": "{}"}}
    bare = {"messages": [{"role": "user", "content": "w?"}, {"role": "assistant", "tool_calls": [call]}]}
    lines = [json.dumps(bare if i in (20, 55) else row(i)) for i in range(100)]
    path.write_text("\n".join(lines) + "\n")
    skipped = Unrenderable()
    stats = file_token_stats(tok, path, max_seq_length=64, unrenderable=skipped)
    # Row 20 is among those tokenized; row 55 is not, but every row is rendered whole once: both are found.
    assert (skipped.count, skipped.checked, [i for i, _ in skipped.first]) == (2, 100, [20, 55])
    assert stats.samples == 98  # the rows that render, estimated from the 9 tokenized
    with pytest.raises(ChatTemplateError) as caught:
        file_token_stats(tok, path, max_seq_length=64)
    assert caught.value.sample == 20
