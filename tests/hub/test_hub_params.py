"""Parameter-count formulas against reference counts and meta-device instantiation."""

from __future__ import annotations

from typing import Any

import pytest

from byom.hub._params import count_from_config, moe_active_params

# Reference counts: hf-hub-and-compat.md section 2.4 (checked against meta-device instantiation).
REFERENCE: dict[str, tuple[dict[str, Any], int]] = {
    "Llama-3-8B": (
        {
            "model_type": "llama",
            "vocab_size": 128256,
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "intermediate_size": 14336,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "tie_word_embeddings": False,
        },
        8_030_261_248,
    ),
    "Llama-3.2-1B": (
        {
            "model_type": "llama",
            "vocab_size": 128256,
            "hidden_size": 2048,
            "num_hidden_layers": 16,
            "intermediate_size": 8192,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 64,
            "tie_word_embeddings": True,
        },
        1_235_814_400,
    ),
    "Qwen2.5-7B": (
        {
            "model_type": "qwen2",
            "vocab_size": 152064,
            "hidden_size": 3584,
            "num_hidden_layers": 28,
            "intermediate_size": 18944,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "tie_word_embeddings": False,
        },
        7_615_616_512,
    ),
    "Qwen2.5-0.5B": (
        {
            "model_type": "qwen2",
            "vocab_size": 151936,
            "hidden_size": 896,
            "num_hidden_layers": 24,
            "intermediate_size": 4864,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "tie_word_embeddings": True,
        },
        494_032_768,
    ),
    "Mistral-7B": (
        {
            "model_type": "mistral",
            "vocab_size": 32000,
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "intermediate_size": 14336,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "tie_word_embeddings": False,
        },
        7_241_732_096,
    ),
    "Gemma-7B": (
        {
            "model_type": "gemma",
            "vocab_size": 256000,
            "hidden_size": 3072,
            "num_hidden_layers": 28,
            "intermediate_size": 24576,
            "num_attention_heads": 16,
            "num_key_value_heads": 16,
            "head_dim": 256,
        },
        8_537_680_896,
    ),
    "Gemma2-9B": (
        {
            "model_type": "gemma2",
            "vocab_size": 256000,
            "hidden_size": 3584,
            "num_hidden_layers": 42,
            "intermediate_size": 14336,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 256,
        },
        9_241_705_984,
    ),
    "Phi-3-mini": (
        {
            "model_type": "phi3",
            "vocab_size": 32064,
            "hidden_size": 3072,
            "num_hidden_layers": 32,
            "intermediate_size": 8192,
            "num_attention_heads": 32,
            "num_key_value_heads": 32,
            "tie_word_embeddings": False,
        },
        3_821_079_552,
    ),
    "Qwen3-8B": (
        {
            "model_type": "qwen3",
            "vocab_size": 151936,
            "hidden_size": 4096,
            "num_hidden_layers": 36,
            "intermediate_size": 12288,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "tie_word_embeddings": False,
        },
        8_190_735_360,
    ),
    # Public model cards: GPT-2 small 124M, Mixtral-8x7B 46.7B.
    "GPT-2": (
        {
            "model_type": "gpt2",
            "vocab_size": 50257,
            "n_embd": 768,
            "n_layer": 12,
            "n_head": 12,
            "n_positions": 1024,
        },
        124_439_808,
    ),
    "Mixtral-8x7B": (
        {
            "model_type": "mixtral",
            "vocab_size": 32000,
            "hidden_size": 4096,
            "num_hidden_layers": 32,
            "intermediate_size": 14336,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "num_local_experts": 8,
            "num_experts_per_tok": 2,
            "tie_word_embeddings": False,
        },
        46_702_792_704,
    ),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_counts(name: str) -> None:
    cfg, expected = REFERENCE[name]
    assert count_from_config(cfg) == expected


def test_unknown_family_or_missing_key_gives_none() -> None:
    assert count_from_config({"model_type": "olmo2", "hidden_size": 8}) is None
    assert count_from_config({"model_type": "llama", "hidden_size": 8}) is None
    assert count_from_config({}) is None


def test_mixtral_active_params() -> None:
    cfg, total = REFERENCE["Mixtral-8x7B"]
    # 6 of 8 experts idle per token in each of 32 layers.
    assert moe_active_params(cfg, total) == total - 32 * 6 * 3 * 4096 * 14336


# Tiny configs instantiated on the meta device: the formula must match transformers exactly.
TINY: list[dict[str, Any]] = [
    {"model_type": "gpt2", "vocab_size": 97, "n_embd": 16, "n_layer": 2, "n_head": 2, "n_positions": 32},
    {
        "model_type": "gpt2",
        "vocab_size": 97,
        "n_embd": 16,
        "n_layer": 2,
        "n_head": 2,
        "n_positions": 32,
        "n_inner": 24,
        "tie_word_embeddings": False,
    },
    {
        "model_type": "mixtral",
        "vocab_size": 97,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "num_local_experts": 4,
        "num_experts_per_tok": 2,
    },
    {
        "model_type": "llama",
        "vocab_size": 97,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "tie_word_embeddings": True,
    },
    {
        "model_type": "qwen2",
        "vocab_size": 97,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "tie_word_embeddings": False,
    },
    {
        "model_type": "qwen3",
        "vocab_size": 97,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "tie_word_embeddings": False,
    },
    {
        "model_type": "gemma2",
        "vocab_size": 97,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
    },
    {
        "model_type": "phi3",
        "vocab_size": 97,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "pad_token_id": 0,
        "tie_word_embeddings": False,
    },
]


@pytest.mark.parametrize("cfg", TINY, ids=lambda c: f"{c['model_type']}-{len(c)}")
def test_formula_matches_meta_device_instantiation(cfg: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.AutoConfig.for_model(**cfg)
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    expected = sum(p.numel() for p in model.parameters())
    assert count_from_config(cfg) == expected
