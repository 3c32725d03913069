"""Pure pieces of the trainer: tokenization and masking, packing, schedules, step planning."""

from __future__ import annotations

import math
from typing import Any

import pytest

from byom.data import check_jsonl
from byom.engine.tiny import write_overfit_dataset
from byom.engine.trainer import TrainSpec
from byom.engine.trainer._loop import plan_steps, spread
from byom.engine.trainer._main import unsupported_reason
from byom.engine.trainer._schedule import lr_factor
from byom.engine.trainer._tokenize import IGNORE, Example, pack, tokenize_preference, tokenize_row
from byom.errors import TrainingError, root_error_line

# The tiny template without {% generation %} markers: masking must not depend on them.
PLAIN_CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|eos|>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CONV = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What do bees make?"},
        {"role": "assistant", "content": "Honey."},
        {"role": "user", "content": "And cows?"},
        {"role": "assistant", "content": "Milk."},
    ]
}


def trained_text(tok: Any, ex: Example) -> str:
    return tok.decode([t for t, lab in zip(ex.input_ids, ex.labels) if lab != IGNORE])


@pytest.mark.parametrize("template", ["with_markers", "plain"])
def test_conversation_loss_only_on_assistant_turns(tiny_tokenizer: Any, template: str) -> None:
    tok = tiny_tokenizer
    saved = tok.chat_template
    if template == "plain":
        tok.chat_template = PLAIN_CHATML
    try:
        ex = tokenize_row(tok, CONV)
        every = tokenize_row(tok, CONV, train_on_inputs=True)
    finally:
        tok.chat_template = saved
    assert trained_text(tok, ex) == "Honey.<|eos|>\nMilk.<|eos|>\n"
    # Every label is the token itself or -100 (the loop shifts).
    assert all(lab in (IGNORE, t) for t, lab in zip(ex.input_ids, ex.labels))
    system_and_user = tok.decode(ex.input_ids[: ex.labels.index(next(x for x in ex.labels if x != IGNORE))])
    assert "Be brief." in system_and_user and "What do bees make?" in system_and_user
    assert every.labels == every.input_ids


def test_message_weight_zero_masks_that_assistant_turn(tiny_tokenizer: Any) -> None:
    row = {"messages": [dict(m) for m in CONV["messages"]]}
    row["messages"][2]["weight"] = 0
    assert trained_text(tiny_tokenizer, tokenize_row(tiny_tokenizer, row)) == "Milk.<|eos|>\n"


def test_missing_chat_template_is_a_clear_error(tiny_tokenizer: Any) -> None:
    saved = tiny_tokenizer.chat_template
    tiny_tokenizer.chat_template = None
    try:
        with pytest.raises(TrainingError, match="no chat template.*prompt"):
            tokenize_row(tiny_tokenizer, CONV)
    finally:
        tiny_tokenizer.chat_template = saved


def test_instruction_masks_the_prompt_and_ends_with_eos(tiny_tokenizer: Any) -> None:
    ex = tokenize_row(tiny_tokenizer, {"prompt": "What is two plus two?", "completion": " Four."})
    assert trained_text(tiny_tokenizer, ex) == " Four.<|eos|>"
    assert tiny_tokenizer.decode(ex.input_ids).startswith("What is two plus two?")
    both = tokenize_row(tiny_tokenizer, {"prompt": "Q", "completion": " A"}, train_on_inputs=True)
    assert both.labels == both.input_ids


def test_general_text_trains_on_everything_and_truncates(tiny_tokenizer: Any) -> None:
    ex = tokenize_row(tiny_tokenizer, {"text": "The sky is blue. " * 20, "weight": 2.0}, max_seq_length=16)
    assert len(ex.input_ids) == 16 and ex.labels == ex.input_ids and ex.weight == 2.0


def test_preference_pair_labels_only_the_completion(tiny_tokenizer: Any) -> None:
    row = {
        "input": {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "What do bees make?"},
            ]
        },
        "preferred_output": [{"role": "assistant", "content": "Honey."}],
        "non_preferred_output": [{"role": "assistant", "content": "Cheese."}],
    }
    pair = tokenize_preference(tiny_tokenizer, row)
    assert trained_text(tiny_tokenizer, pair.chosen) == "Honey.<|eos|>\n"
    assert trained_text(tiny_tokenizer, pair.rejected) == "Cheese.<|eos|>\n"


def test_packing_keeps_examples_whole_and_separate() -> None:
    a = Example([1, 2, 3], [IGNORE, 2, 3])
    b = Example([4, 5], [4, 5])
    c = Example([6, 7, 8, 9], [6, 7, 8, 9])
    blocks = pack([a, b, c], max_seq_length=6)
    assert [bl.input_ids for bl in blocks] == [[1, 2, 3, 4, 5], [6, 7, 8, 9]]
    # The first token of a packed example is never predicted from the previous one.
    assert blocks[0].labels == [IGNORE, 2, 3, IGNORE, 5]
    assert blocks[0].starts == [0, 3]


def test_schedules() -> None:
    def f(step: int, **kw: Any) -> float:
        return lr_factor(step, 10, **kw)

    assert f(0, kind="linear") == 1.0
    assert f(5, kind="linear") == pytest.approx(0.5)
    assert f(9, kind="linear", min_lr_ratio=0.1) == pytest.approx(0.1 + 0.9 * 0.1)
    assert f(0, kind="cosine") == 1.0
    assert f(5, kind="cosine") == pytest.approx(0.5)
    assert f(5, kind="cosine", num_cycles=1.0) == pytest.approx(0.0, abs=1e-9)
    warm = [f(s, kind="cosine", warmup_ratio=0.3) for s in range(4)]
    assert warm[0] < warm[1] < warm[2] < 1.0 and warm[3] == 1.0
    assert all(
        math.isfinite(f(s, kind="cosine", min_lr_ratio=0.2)) and f(s, kind="cosine", min_lr_ratio=0.2) >= 0.2
        for s in range(10)
    )


def test_step_planning(tmp_path: Any) -> None:
    spec = TrainSpec(
        job_id="j",
        job_dir=tmp_path,
        from_hf_model="m",
        training_file=tmp_path / "t.jsonl",
        batch_size=4,
        gradient_accumulation_steps=2,
        n_epochs=3,
    )
    assert plan_steps(32, spec) == (4, 12)
    assert plan_steps(33, spec) == (5, 15)
    assert spread(3, 12) == [4, 8, 12]
    assert spread(5, 2) == [1, 2]
    assert spread(0, 10) == []


def test_unsupported_specs_and_error_lines(tmp_path: Any) -> None:
    spec = TrainSpec(job_id="j", job_dir=tmp_path, from_hf_model="m", training_file=tmp_path / "t.jsonl")
    assert unsupported_reason(spec) is None
    assert unsupported_reason(spec.model_copy(update={"method": "dpo"})) is None
    assert "at least 1" in (unsupported_reason(spec.model_copy(update={"batch_size": 0})) or "")
    assert root_error_line(ValueError("bad\nmore")) == "ValueError: bad"
    assert root_error_line(TrainingError("x")) == "TrainingError: x"
    import torch

    assert root_error_line(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")).startswith(
        "torch.OutOfMemoryError: CUDA out of memory."
    )


@pytest.mark.parametrize("fmt", ["conversation", "instruction", "general", "preference"])
def test_overfit_dataset_passes_the_checker(tmp_path: Any, fmt: Any) -> None:
    report = check_jsonl(write_overfit_dataset(tmp_path / "d.jsonl", n=20, fmt=fmt))
    assert report.valid and report.nlines == 20 and report.dataset_format == fmt
    # The 16 facts cycle to fill 20 rows (it is an overfit set): the repeats are its only warning.
    assert set(report.problem_counts) == {"duplicate"}


def test_tiny_model_loads_with_auto_classes(tiny_model: Any) -> None:
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert tok.chat_template and tok.bos_token == "<|bos|>" and tok.pad_token == "<|pad|>"
    assert AutoConfig.from_pretrained(tiny_model).model_type == "llama"
    assert (tiny_model / "model.safetensors").is_file()


def test_a_model_directory_with_a_link_out_is_refused_before_anything_loads(
    tmp_path: Any, tiny_model: Any
) -> None:
    from byom.engine.trainer import _model
    from support.model_dirs import model_copy, replace_with_link, secret_file

    secret = secret_file(tmp_path / "home")
    model = model_copy(tiny_model, tmp_path / "model")
    replace_with_link(model, "chat_template.jinja", secret)
    spec = TrainSpec(
        job_id="j", job_dir=tmp_path, from_hf_model=str(model), training_file=tmp_path / "t.jsonl"
    )
    with pytest.raises(
        TrainingError, match=f"chat_template.jinja in the model directory .* link to {secret}"
    ):
        _model.resolve_model_dir(spec, None)
