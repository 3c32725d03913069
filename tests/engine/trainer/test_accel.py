"""The trainer's GPU path, tested where it can be without a GPU: the rule that picks dtype, attention kernel,
padding-free batches and Liger (a pure function), and the padding-free batch's loss, which must equal the padded
batch's on the same examples (transformers keeps the flattened examples apart by their position ids)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from byom.engine.trainer._accel import Acceleration, choose
from byom.engine.trainer._objective import SFTObjective, collate_flat
from byom.engine.trainer._tokenize import IGNORE, Example, pack


def _facts(**overrides: Any) -> dict[str, Any]:
    facts = {
        "device_type": "cuda",
        "bf16_supported": True,
        "flash_attn_installed": True,
        "liger_installed": False,
        "liger_wanted": False,
    }
    return {**facts, **overrides}


def test_a_bf16_gpu_with_flash_attention_gets_the_fast_path() -> None:
    accel = choose(**_facts())
    assert accel == Acceleration("bfloat16", "flash_attention_2", padding_free=True, liger=False)
    assert accel.describe() == "bf16, flash-attention-2, padding-free batches"


def test_without_flash_attention_sdpa_pads_and_says_why() -> None:
    accel = choose(**_facts(flash_attn_installed=False))
    assert (accel.attention, accel.padding_free) == ("sdpa", False)
    assert "flash-attn not installed" in accel.describe()


def test_a_gpu_without_bf16_trains_in_fp32() -> None:
    assert choose(**_facts(bf16_supported=False)).dtype == "float32"


def test_the_cpu_keeps_fp32_sdpa_and_padding_even_with_flash_attn_installed() -> None:
    accel = choose(**_facts(device_type="cpu", bf16_supported=False))
    assert accel == Acceleration("float32", "sdpa", padding_free=False, liger=False)
    assert accel.describe() == "fp32, sdpa, each batch padded to its longest sequence"


@pytest.mark.parametrize(
    ("device_type", "installed", "used", "said"),
    [
        ("cuda", True, True, None),
        ("cuda", False, False, "not installed"),
        ("cpu", True, False, "need CUDA"),
    ],
)
def test_liger_only_when_asked_installed_and_on_cuda(
    device_type: str, installed: bool, used: bool, said: str | None
) -> None:
    accel = choose(**_facts(device_type=device_type, liger_installed=installed, liger_wanted=True))
    assert accel.liger is used
    if said:
        assert said in accel.describe()
    else:
        assert accel.describe().endswith("Liger kernels")


def test_a_flat_batch_restarts_positions_and_hides_each_boundary() -> None:
    a = Example([1, 2, 3], [IGNORE, 2, 3], weight=1.0)
    b = pack([Example([4, 5], [4, 5]), Example([6, 7], [6, 7])], max_seq_length=8)[0]
    b.weight = 2.0
    flat = collate_flat([a, b], "cpu")
    assert flat["input_ids"].tolist() == [[1, 2, 3, 4, 5, 6, 7]]
    assert flat["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 1]]
    assert flat["labels"].tolist() == [[IGNORE, 2, 3, IGNORE, 5, IGNORE, 7]]
    assert flat["token_weights"].tolist() == [[1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]]
    assert flat["n_tokens"] == 7


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_the_padding_free_loss_equals_the_padded_loss(
    tiny_model: Path, tmp_path: Path, attention: str
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from byom.engine.tiny import write_overfit_dataset
    from byom.engine.trainer._tokenize import load_examples

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(
        tiny_model, dtype=torch.float32, attn_implementation=attention
    )
    model.eval()
    data = write_overfit_dataset(tmp_path / "train.jsonl", n=6)
    examples, _ = load_examples(tokenizer, data, train_on_inputs="auto", max_seq_length=256)
    examples[1].weight = 0.5  # per-example weights survive flattening
    padded = SFTObjective(tokenizer.pad_token_id, "cpu")
    flat = SFTObjective(tokenizer.pad_token_id, "cpu", padding_free=True)
    with torch.no_grad():
        want, tokens = padded.loss_sum(model, examples)
        got, flat_tokens = flat.loss_sum(model, examples)
    assert float(got) == pytest.approx(float(want), rel=1e-4)
    assert flat_tokens == sum(len(e.input_ids) for e in examples) <= tokens
