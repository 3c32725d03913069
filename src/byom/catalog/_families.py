"""Architecture families: which HF ``model_type`` maps to which Together template family."""

from __future__ import annotations

__all__ = ["normalize_family", "related_families"]

# HF config.json model_type → catalog family. The BYOM docs decide the template by architecture:
# CodeLlama and SmolLM2 carry model_type "llama", so they land in "llama" with no special case.
_MODEL_TYPE_TO_FAMILY: dict[str, str] = {
    "llama": "llama",
    "llama4": "llama4",
    "llama4_text": "llama4",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen3_moe": "qwen3_moe",
    "qwen3_next": "qwen3_next",
    "qwen2_moe": "qwen2_moe",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3",
    "gemma3_text": "gemma3",
    "mistral": "mistral",
    "ministral": "mistral",
    "mixtral": "mixtral",
    "gpt_oss": "gpt_oss",
    "deepseek_v3": "deepseek",
    "deepseek_v2": "deepseek",
}

# Fallbacks when the catalog has no base of the exact family. The docs' rule for "No exact architecture
# match available" is "choose the closest architecture family"; their own Qwen example trains
# Qwen2.5-7B on the Qwen3-4B template, and the Gemma examples cross Gemma generations.
_RELATED: dict[str, tuple[str, ...]] = {
    "qwen2": ("qwen3",),
    "qwen3": ("qwen2",),
    "qwen2_moe": ("qwen3_moe",),
    "qwen3_moe": ("qwen3_next",),
    "qwen3_next": ("qwen3_moe",),
    "gemma": ("gemma3",),
    "gemma2": ("gemma3",),
    "llama4": ("llama",),
}


def normalize_family(family_or_model_type: str | None, *, known_only: bool = False) -> str | None:
    """The catalog family for an HF ``model_type`` or a family name; ``None`` when unknown.

    Unmapped names pass through lower-cased, unless ``known_only``.
    """
    if not family_or_model_type:
        return None
    key = family_or_model_type.strip().lower().replace("-", "_")
    return _MODEL_TYPE_TO_FAMILY.get(key, None if known_only else key)


def related_families(family: str) -> tuple[str, ...]:
    """Families to fall back to, closest first, when ``family`` has no base."""
    return _RELATED.get(family, ())
