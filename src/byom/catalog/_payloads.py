"""Render a catalog row as the Together API would answer for it (for the local engine).

Shapes follow SDK 3.1.1: ``FinetuneModelLimits`` (``GET /v1/fine-tunes/models/limits``) and
``SupportedModel`` (``GET /v2/supported-models``), ref together-api-2026-11.md §2.7 and §4.1.
"""

from __future__ import annotations

from typing import Any

from byom.catalog._models import CatalogBase

__all__ = ["LIMIT_DEFAULTS", "limits_payload", "supported_model_payload"]

# Figures Together publishes per model but that no public source gives for every row. These are
# our local defaults, wide enough for every value the docs' examples use (lr 1e-6 … 1e-3, 1–4 epochs).
LIMIT_DEFAULTS: dict[str, Any] = {
    "max_num_epochs": 20,
    "max_num_evals": 100,
    "max_num_checkpoints": 20,
    "min_learning_rate": 1e-8,
    "max_learning_rate": 1e-2,
    "min_max_seq_length": 64,
    # Context when a row has none on record: the smallest in the docs table.
    "max_seq_length": 4096,
    # Batch sizes: "8" is the commonest LoRA min/max in the docs table.
    "min_batch_size": 8,
    "max_batch_size": 8,
    # lora_r "defaults to 64 but is capped per model" (togethercomputer/skills supported-models.md).
    "max_rank": 64,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "merge_output_lora": True,
}


def _dpo_batch(max_batch: int, min_batch: int) -> int:
    # The legacy SDK's fill-in for a missing max_batch_size_dpo (together-api.md §5).
    return max(min_batch, ((max_batch // 2) // 8) * 8)


def limits_payload(base: CatalogBase, *, assume_full_when_unknown: bool = False) -> dict[str, Any]:
    """The ``FinetuneModelLimits`` JSON for ``base``, unknown figures filled from ``LIMIT_DEFAULTS``."""
    d = LIMIT_DEFAULTS
    lora = base.lora
    max_rank = (lora.max_rank if lora else None) or d["max_rank"]
    lora_max = (lora.max_batch_size if lora else None) or d["max_batch_size"]
    # min() also repairs rows recorded as min > max (DeepSeek R1/V3: "1 / 2 as recorded").
    lora_min = min((lora.min_batch_size if lora else None) or d["min_batch_size"], lora_max)
    lora_training = {
        "default_rank": (lora.default_rank if lora else None) or max_rank,
        "max_batch_size": lora_max,
        "max_batch_size_dpo": (lora.max_batch_size_dpo if lora else None) or _dpo_batch(lora_max, lora_min),
        "max_rank": max_rank,
        "min_batch_size": lora_min,
        "target_modules": list(d["target_modules"]),
    }
    supports_full = base.full_training is True or (base.full_training is None and assume_full_when_unknown)
    full_training: dict[str, int] | None = None
    if supports_full:
        full = base.full
        full_max = (full.max_batch_size if full else None) or lora_max
        full_min = (full.min_batch_size if full else None) or min(lora_min, full_max)
        full_training = {
            "max_batch_size": full_max,
            "max_batch_size_dpo": (full.max_batch_size_dpo if full else None)
            or _dpo_batch(full_max, full_min),
            "min_batch_size": full_min,
        }
    sft = base.sft_context or d["max_seq_length"]
    dpo = base.dpo_context or sft
    return {
        "model_name": base.name,
        # "Batch size 1 uses gradient accumulation 8" (docs fine-tuning-models page).
        "default_gradient_accumulation_steps": 8 if lora_max == 1 else 1,
        # The SDK types lora_training as required; LoRA-less rows are not in the docs table.
        "lora_training": lora_training if lora is not None else None,
        "full_training": full_training,
        "max_learning_rate": d["max_learning_rate"],
        "min_learning_rate": d["min_learning_rate"],
        "max_num_checkpoints": d["max_num_checkpoints"],
        "max_num_epochs": d["max_num_epochs"],
        "max_num_evals": d["max_num_evals"],
        "max_seq_length_sft": sft,
        "max_seq_length_dpo": dpo,
        "min_max_seq_length": min(d["min_max_seq_length"], sft),
        "merge_output_lora": d["merge_output_lora"],
        "supports_full_training": supports_full,
        "supports_reasoning": base.supports_reasoning,
        "supports_tools": base.supports_tools,
        "supports_vision": base.supports_vision,
    }


def supported_model_payload(base: CatalogBase, *, timestamp: str = "2026-11-28T00:00:00Z") -> dict[str, Any]:
    """The ``SupportedModel`` JSON for ``base``, offered for fine-tuning."""
    publisher = base.name.split("/", 1)[0] if "/" in base.name else ""
    payload: dict[str, Any] = {
        "id": base.name,
        "baseModel": "",
        "baseModelId": base.name,
        "capabilities": ["CAPABILITY_CHAT"],
        "createdAt": timestamp,
        "updatedAt": timestamp,
        "deploymentProfiles": [],
        "displayName": base.name.split("/")[-1],
        "displayType": "chat",
        "inputModalities": ["MODALITY_TEXT", "MODALITY_IMAGE"] if base.supports_vision else ["MODALITY_TEXT"],
        "outputModalities": ["MODALITY_TEXT"],
        "name": base.name,
        "products": ["PRODUCT_FINE_TUNING"],
        "publisher": publisher,
        "status": "SUPPORTED_MODEL_STATUS_SUPPORTED",
        "familyId": base.family,
    }
    if base.notes:
        payload["description"] = base.notes
    if base.model_type:
        payload["architecture"] = base.model_type
    if base.sft_context:
        # The SDK types contextLength as a string.
        payload["contextLength"] = str(base.sft_context)
    features = ["FEATURE_TOOL_CALLING"] if base.supports_tools else []
    if base.supports_reasoning:
        features.append("FEATURE_REASONING")
    if features:
        payload["features"] = features
    return payload
