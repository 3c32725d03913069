"""Supported base models (``/v2/supported-models``) and their fine-tuning limits (``/v1/fine-tunes/models/limits``)."""

from __future__ import annotations

from typing import Any

from pydantic import (
    AliasChoices,
    Field,
)

from byom.together._shapes import Timestamp, _Camel, _Lenient

__all__ = [
    "FinetuneModelLimits",
    "FullTrainingLimits",
    "LoraTrainingLimits",
    "SupportedModel",
    "SupportedModelPage",
]


class DeploymentProfile(_Camel):
    """One ``deploymentProfiles[]`` entry of a supported model (ref §4.1)."""

    profile_id: str | None = None
    model: str | None = None
    model_name: str | None = None
    config: str | None = None
    certified_config_revision_id: str | None = None
    certified_model_revision_id: str | None = None
    gpu_count: int | None = None
    gpu_type: str | None = None
    parallelism: str | None = None
    quantization: str | None = None
    adapter_mode: str | None = None
    performance_benchmarks: dict[str, Any] | None = None


class SupportedModel(_Camel):
    """One entry of ``GET /v2/supported-models`` and the answer of ``GET /v2/supported-models/{id}`` (ref §4.1)."""

    id: str
    name: str | None = None
    display_name: str | None = None
    display_type: str | None = None
    description: str | None = None
    products: list[str] = Field(default_factory=list)
    status: str | None = None
    architecture: str | None = None
    # The SDK types it as a string; see ``context``.
    context_length: str | int | None = None
    family_id: str | None = None
    publisher: str | None = None
    base_model: str | None = None
    base_model_id: str | None = None
    capabilities: list[str] | None = None
    features: list[str] | None = None
    input_modalities: list[str] | None = None
    output_modalities: list[str] | None = None
    input_format: str | None = None
    output_format: str | None = None
    deployment_profiles: list[DeploymentProfile] | None = None
    pricing: dict[str, Any] | None = None
    serverless_endpoint: str | None = None
    tags: list[str] | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None

    @property
    def model_name(self) -> str:
        """The HF-style id used with the fine-tuning API (``name``, else ``id``)."""
        return self.name or self.id

    @property
    def context(self) -> int | None:
        """``contextLength`` as an int (the SDK types it as a string); ``None`` if absent or odd."""
        try:
            return int(self.context_length) if self.context_length not in (None, "") else None
        except (TypeError, ValueError):
            return None


class SupportedModelPage(_Lenient):
    """``GET /v2/supported-models``: ``{data, next_cursor}``."""

    data: list[SupportedModel] = Field(default_factory=list)
    next_cursor: str | None = Field(default=None, validation_alias=AliasChoices("next_cursor", "nextCursor"))


class LoraTrainingLimits(_Lenient):
    default_rank: int | None = None
    max_batch_size: int | None = None
    max_batch_size_dpo: int | None = None
    max_rank: int | None = None
    min_batch_size: int | None = None
    target_modules: list[str] | None = None


class FullTrainingLimits(_Lenient):
    max_batch_size: int | None = None
    max_batch_size_dpo: int | None = None
    min_batch_size: int | None = None


class FinetuneModelLimits(_Lenient):
    """``GET /v1/fine-tunes/models/limits`` (SDK 3.1.1 ``FinetuneModelLimits``, ref 2026-11 §2.7)."""

    model_name: str
    default_gradient_accumulation_steps: int | None = None
    lora_training: LoraTrainingLimits | None = None
    # null = full fine-tuning unsupported (spec); SDK 3.1.1 also reports zeros with supports_full_training=false.
    full_training: FullTrainingLimits | None = None
    max_learning_rate: float | None = None
    min_learning_rate: float | None = None
    max_num_checkpoints: int | None = None
    max_num_epochs: int | None = None
    max_num_evals: int | None = None
    max_seq_length_sft: int | None = None
    max_seq_length_dpo: int | None = None
    min_max_seq_length: int | None = None
    merge_output_lora: bool | None = None
    supports_full_training: bool | None = None
    supports_reasoning: bool | None = None
    supports_tools: bool | None = None
    supports_vision: bool | None = None

    @property
    def full_supported(self) -> bool | None:
        """True/False when the answer says so; ``None`` when it does not."""
        if self.supports_full_training is not None:
            return self.supports_full_training
        if self.full_training is None:
            # The spec's way of saying "unsupported" is a null object, but an older answer may omit it.
            return False if "full_training" in (self.model_fields_set or set()) else None
        return bool(self.full_training.max_batch_size)
