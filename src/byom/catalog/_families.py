"""Architecture families: which HF ``model_type`` maps to which Together template family."""

from __future__ import annotations

import re

__all__ = ["is_chat_name", "is_multimodal_type", "normalize_family", "related_families", "vendor_orgs"]

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

# HF model_types whose checkpoint is an image+text model (a *ForConditionalGeneration with a vision tower);
# their text-only siblings (gemma3_text, llama4_text) are plain causal LMs. google/gemma-3-4b/12b/27b are
# "gemma3", gemma-3-270m/1b are "gemma3_text" (their config.json files).
_MULTIMODAL_TYPES = frozenset(
    {"gemma3", "llama4", "mllama", "mistral3", "llava", "qwen2_vl", "qwen2_5_vl", "qwen3_vl", "idefics3"}
)

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


def is_multimodal_type(model_type: str | None) -> bool | None:
    """Whether an HF ``model_type`` is an image+text architecture; ``None`` when the type is unknown."""
    if not model_type:
        return None
    return model_type.strip().lower() in _MULTIMODAL_TYPES


def related_families(family: str) -> tuple[str, ...]:
    """Families to fall back to, closest first, when ``family`` has no base."""
    return _RELATED.get(family, ())


# Who publishes each family's own weights. A catalog row from another org is a community fine-tune
# or a distill (teknium/OpenHermes-2p5-Mistral-7B, deepseek-ai/DeepSeek-R1-Distill-*). Together's own
# togethercomputer/llama-2-7b-chat is Meta's Llama-2-7b-chat as Together hosts it: the docs' template.
_VENDOR_ORGS: dict[str, tuple[str, ...]] = {
    "llama": ("meta-llama", "codellama", "togethercomputer"),
    "llama4": ("meta-llama",),
    "qwen2": ("qwen",),
    "qwen2_moe": ("qwen",),
    "qwen3": ("qwen",),
    "qwen3_moe": ("qwen",),
    "qwen3_next": ("qwen",),
    "gemma": ("google",),
    "gemma2": ("google",),
    "gemma3": ("google",),
    "mistral": ("mistralai",),
    "mixtral": ("mistralai",),
    "gpt_oss": ("openai",),
    "deepseek": ("deepseek-ai",),
}
_CHAT_MARKERS = frozenset({"instruct", "chat", "it", "thinking"})
_BASE_MARKERS = frozenset({"base", "pt"})
# Families whose vendor ships the post-trained model under the plain name ("Qwen/Qwen3-8B" is the
# chat model, "Qwen/Qwen3-8B-Base" the pretrained one); elsewhere the plain name is the base.
_PLAIN_NAME_IS_CHAT = frozenset({"qwen3", "qwen3_moe", "qwen3_next", "deepseek", "gpt_oss"})


def vendor_orgs(family: str) -> tuple[str, ...]:
    """The lower-cased Hub orgs that publish ``family``'s official weights; empty when unknown."""
    return _VENDOR_ORGS.get(family, ())


def is_chat_name(name: str, family: str | None = None) -> bool | None:
    """Whether a model id names an instruct/chat variant (``-Instruct``, ``-chat``, ``-it``) or a base one.

    ``None`` when the name says neither and ``family`` has no naming convention to fall back on.
    """
    tokens = set(re.split(r"[-_/.\s]+", name.strip().lower()))
    if tokens & _CHAT_MARKERS:
        return True
    if tokens & _BASE_MARKERS:
        return False
    if family is None:
        return None
    return family in _PLAIN_NAME_IS_CHAT
