"""Exact parameter counts from config.json, for when safetensors metadata is unavailable.

Formulas: hf-hub-and-compat.md section 2.4 (checked against meta-device instantiation, transformers 5.23).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FORMULA_FAMILIES", "count_from_config", "moe_active_params"]

# model_type -> formula variant. Families not listed get None (use safetensors metadata instead).
FORMULA_FAMILIES = {
    "llama": "llama",
    "mistral": "llama",
    "phi3": "llama",  # fused qkv_proj / gate_up_proj: same totals as Llama
    "gemma": "llama",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma2": "gemma2",
    "mixtral": "mixtral",
    "gpt2": "gpt2",
}

_TIED_BY_DEFAULT = {"gemma", "gemma2", "gpt2"}


def _int(cfg: Mapping[str, Any], key: str) -> int | None:
    value = cfg.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _tied(cfg: Mapping[str, Any], model_type: str) -> bool:
    value = cfg.get("tie_word_embeddings")
    # The repo's config.json value wins over the class default (ref 2.4).
    return bool(value) if isinstance(value, bool) else model_type in _TIED_BY_DEFAULT


def _gpt2(cfg: Mapping[str, Any]) -> int | None:
    v, h, n_layer, n_pos = (_int(cfg, k) for k in ("vocab_size", "n_embd", "n_layer", "n_positions"))
    if None in (v, h, n_layer, n_pos):
        return None
    assert v is not None and h is not None and n_layer is not None and n_pos is not None
    inner = _int(cfg, "n_inner") or 4 * h
    per_layer = (
        2 * h  # ln_1 weight + bias
        + h * 3 * h
        + 3 * h  # c_attn (Conv1D with bias)
        + h * h
        + h  # attn c_proj
        + 2 * h  # ln_2
        + h * inner
        + inner  # mlp c_fc
        + inner * h
        + h  # mlp c_proj
    )
    total = v * h + n_pos * h + n_layer * per_layer + 2 * h  # wte + wpe + blocks + ln_f
    return total if _tied(cfg, "gpt2") else total + v * h


def count_from_config(cfg: Mapping[str, Any]) -> int | None:
    """Exact parameter count for supported families, or None when the family or a key is unknown."""
    model_type = cfg.get("model_type")
    variant = FORMULA_FAMILIES.get(model_type) if isinstance(model_type, str) else None
    if variant is None:
        return None
    assert isinstance(model_type, str)
    if variant == "gpt2":
        return _gpt2(cfg)
    v, h, n_layers, inter, n_heads = (
        _int(cfg, k)
        for k in (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "intermediate_size",
            "num_attention_heads",
        )
    )
    if None in (v, h, n_layers, inter, n_heads):
        return None
    assert (
        v is not None and h is not None and n_layers is not None and inter is not None and n_heads is not None
    )
    n_kv = _int(cfg, "num_key_value_heads") or n_heads
    d = _int(cfg, "head_dim") or h // n_heads
    attn = h * n_heads * d + 2 * h * n_kv * d + n_heads * d * h
    mlp = 3 * h * inter
    norms = 2 * h
    extra = 0
    if variant == "qwen2":
        extra = n_heads * d + 2 * n_kv * d  # q/k/v biases
    elif variant == "qwen3":
        extra = 2 * d  # q_norm + k_norm
    elif variant == "gemma2":
        extra = 2 * h  # pre/post feed-forward norms
    elif variant == "mixtral":
        experts = _int(cfg, "num_local_experts") or _int(cfg, "num_experts")
        if experts is None:
            return None
        mlp = experts * 3 * h * inter + h * experts  # experts + router
    total = v * h + n_layers * (attn + mlp + norms + extra) + h
    return total if _tied(cfg, model_type) else total + v * h


def moe_active_params(cfg: Mapping[str, Any], total: int) -> int | None:
    """Parameters used per token for Mixtral-style or Qwen-MoE configs: total minus the unrouted experts."""
    model_type = cfg.get("model_type")
    h, n_layers = _int(cfg, "hidden_size"), _int(cfg, "num_hidden_layers")
    k = _int(cfg, "num_experts_per_tok")
    if model_type == "mixtral":
        experts, inter = (
            _int(cfg, "num_local_experts") or _int(cfg, "num_experts"),
            _int(cfg, "intermediate_size"),
        )
    elif model_type in ("qwen2_moe", "qwen3_moe"):
        experts, inter = _int(cfg, "num_experts"), _int(cfg, "moe_intermediate_size")
        # Layers listed in mlp_only_layers or off the decoder_sparse_step grid are dense: not handled here.
        if cfg.get("mlp_only_layers") or (_int(cfg, "decoder_sparse_step") or 1) != 1:
            return None
    else:
        return None
    if None in (h, n_layers, k, experts, inter):
        return None
    assert (
        h is not None and n_layers is not None and k is not None and experts is not None and inter is not None
    )
    return total - n_layers * (experts - k) * 3 * h * inter
