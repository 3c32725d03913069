"""Render a catalog row as the Together API would answer for it (for the local engine).

Shapes follow SDK 3.1.1: ``FinetuneModelLimits`` (``GET /v1/fine-tunes/models/limits``) and
``SupportedModel`` (``GET /v2/supported-models``), ref together-api-2026-11.md §2.7 and §4.1.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from byom.catalog._models import CatalogBase

__all__ = [
    "LIMIT_DEFAULTS",
    "LOCAL_TEMPLATE",
    "BaseLimits",
    "BatchLimits",
    "base_limits",
    "limits_payload",
    "local_limits_payload",
    "supported_model_payload",
]

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


class BatchLimits(BaseModel):
    """Batch-size limits for one training type, unknown figures filled from ``LIMIT_DEFAULTS``."""

    model_config = ConfigDict(frozen=True)

    max_batch_size: int
    max_batch_size_dpo: int
    min_batch_size: int


class BaseLimits(BaseModel):
    """The fine-tuning facts of one catalog row: what ``recommend()`` and the engine's limits both report.

    Figures not on record are filled from ``LIMIT_DEFAULTS``; the ``*_on_record`` flags say which.
    """

    model_config = ConfigDict(frozen=True)

    model_name: str
    lora_supported: bool
    lora: BatchLimits | None
    lora_max_rank: int
    lora_default_rank: int
    lora_batch_on_record: bool
    supports_full_training: bool
    # True: a source confirms full fine-tuning; False with supports_full_training: inferred (see below).
    full_training_confirmed: bool
    full: BatchLimits | None
    max_seq_length_sft: int
    max_seq_length_dpo: int
    sft_context_on_record: bool
    dpo_context_on_record: bool

    def max_seq_length(self, method: str = "sft") -> int:
        """The max sequence length for ``method`` (``sft`` or ``dpo``)."""
        return self.max_seq_length_dpo if method == "dpo" else self.max_seq_length_sft

    def context_on_record(self, method: str = "sft") -> bool:
        """Whether the context for ``method`` comes from a source rather than a default."""
        return self.dpo_context_on_record if method == "dpo" else self.sft_context_on_record


def base_limits(base: CatalogBase) -> BaseLimits:
    """The one place a catalog row's limits are decided; ``recommend()`` and ``limits_payload()`` read it."""
    d = LIMIT_DEFAULTS
    lora = base.lora
    max_rank = (lora.max_rank if lora else None) or d["max_rank"]
    lora_batch: BatchLimits | None = None
    if lora is not None:
        lora_max = lora.max_batch_size or d["max_batch_size"]
        # min() also repairs rows recorded as min > max (DeepSeek R1/V3: "1 / 2 as recorded").
        lora_min = min(lora.min_batch_size or d["min_batch_size"], lora_max)
        lora_batch = BatchLimits(
            max_batch_size=lora_max,
            max_batch_size_dpo=lora.max_batch_size_dpo or _dpo_batch(lora_max, lora_min),
            min_batch_size=lora_min,
        )
    # Together's models page: full fine-tuning covers "most dense models"; only rows marked "no" are
    # LoRA-only (together-api.md §9 notes). So an unconfirmed row counts as supported, flagged as such.
    supports_full = base.full_training is not False
    full_batch: BatchLimits | None = None
    if supports_full:
        full = base.full
        fallback_max = lora_batch.max_batch_size if lora_batch else d["max_batch_size"]
        fallback_min = lora_batch.min_batch_size if lora_batch else d["min_batch_size"]
        full_max = (full.max_batch_size if full else None) or fallback_max
        full_min = (full.min_batch_size if full else None) or min(fallback_min, full_max)
        full_batch = BatchLimits(
            max_batch_size=full_max,
            max_batch_size_dpo=(full.max_batch_size_dpo if full else None) or _dpo_batch(full_max, full_min),
            min_batch_size=full_min,
        )
    sft = base.sft_context or d["max_seq_length"]
    return BaseLimits(
        model_name=base.name,
        lora_supported=lora is not None,
        lora=lora_batch,
        lora_max_rank=max_rank,
        lora_default_rank=(lora.default_rank if lora else None) or max_rank,
        lora_batch_on_record=lora is not None and lora.max_batch_size is not None,
        supports_full_training=supports_full,
        full_training_confirmed=base.full_training is True,
        full=full_batch,
        max_seq_length_sft=sft,
        max_seq_length_dpo=base.dpo_context or sft,
        sft_context_on_record=base.sft_context is not None,
        dpo_context_on_record=base.dpo_context is not None,
    )


def limits_payload(base: CatalogBase) -> dict[str, Any]:
    """The ``FinetuneModelLimits`` JSON for ``base``, built from ``base_limits(base)``."""
    d = LIMIT_DEFAULTS
    facts = base_limits(base)
    lora_training: dict[str, Any] | None = None
    if facts.lora is not None:
        lora_training = {
            "default_rank": facts.lora_default_rank,
            **facts.lora.model_dump(),
            "max_rank": facts.lora_max_rank,
            "target_modules": list(d["target_modules"]),
        }
    sft = facts.max_seq_length_sft
    return {
        "model_name": facts.model_name,
        # "Batch size 1 uses gradient accumulation 8" (docs fine-tuning-models page).
        "default_gradient_accumulation_steps": 8 if facts.lora and facts.lora.max_batch_size == 1 else 1,
        # The SDK types lora_training as required; LoRA-less rows are not in the docs table.
        "lora_training": lora_training,
        "full_training": facts.full.model_dump() if facts.full is not None else None,
        "max_learning_rate": d["max_learning_rate"],
        "min_learning_rate": d["min_learning_rate"],
        "max_num_checkpoints": d["max_num_checkpoints"],
        "max_num_epochs": d["max_num_epochs"],
        "max_num_evals": d["max_num_evals"],
        "max_seq_length_sft": sft,
        "max_seq_length_dpo": facts.max_seq_length_dpo,
        "min_max_seq_length": min(d["min_max_seq_length"], sft),
        "merge_output_lora": d["merge_output_lora"],
        "supports_full_training": facts.supports_full_training,
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


# The local engine's own template: a job of your model on this machine, held to no Together base's limits (a
# Together base would impose its batch sizes and sequence limits on a model it has nothing to do with).
LOCAL_TEMPLATE = "byom/local"
# The engine's largest batch for batch_size="max" on a CPU (engine/finetunes/plan.py caps "max" per device).
_LOCAL_MAX_BATCH = 8


def local_limits_payload() -> dict[str, Any]:
    """The ``FinetuneModelLimits`` JSON of ``LOCAL_TEMPLATE``: the model's own context bounds the sequence
    length, this machine's memory the batch; the learning-rate, epoch and rank bounds are the defaults'."""
    d = LIMIT_DEFAULTS
    batch = {"min_batch_size": 1, "max_batch_size": _LOCAL_MAX_BATCH, "max_batch_size_dpo": _LOCAL_MAX_BATCH}
    return {
        "model_name": LOCAL_TEMPLATE,
        "default_gradient_accumulation_steps": 1,
        "lora_training": {
            "default_rank": 64,  # Together's usual; a plan derives a smaller one from the hidden size
            **batch,
            "max_rank": 256,
            "target_modules": list(d["target_modules"]),
        },
        "full_training": dict(batch),
        "max_learning_rate": d["max_learning_rate"],
        "min_learning_rate": d["min_learning_rate"],
        "max_num_checkpoints": d["max_num_checkpoints"],
        "max_num_epochs": d["max_num_epochs"],
        "max_num_evals": d["max_num_evals"],
        # No template limit: decide_max_seq_length takes the model's context.
        "max_seq_length_sft": 131_072,
        "max_seq_length_dpo": 131_072,
        "min_max_seq_length": 1,
        "merge_output_lora": True,
        "supports_full_training": True,
        "supports_reasoning": True,
        "supports_tools": True,
        "supports_vision": False,
    }
