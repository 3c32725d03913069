"""The body of ``POST /v1/fine-tunes`` as SDK 3.1.1 sends it (ref together-api-2026-11 §2.3, §2.4).

Unknown keys are kept (``extra="allow"``) so that a newer client's field is reported as ignored
rather than rejected; every known field is typed, and range checks against the model's limits
happen in ``plan.py`` where the limits are known. No float may be infinite or NaN (``1e999`` parses
to ``inf``): such a value cannot be stored as JSON nor rendered back, and means nothing to the trainer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["CreateFineTune", "EstimatePrice", "LrScheduler", "TrainingMethod", "TrainingType"]


# torch.manual_seed and numpy's seeding both take any value in 0..2**32-1.
MAX_SEED = 2**32 - 1
# Far above any useful LoRA (ranks of 8-256); bounds the adapter's size and the int() of alpha.
MAX_LORA = 4096


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# Unions are validated by hand so that an error's location is the field itself ("batch_size"),
# not a union branch ("batch_size.int").
def _int_or_max(value: object) -> int | str:
    if value == "max":
        return "max"
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError('must be an integer or "max"')


def _bool_or_auto(value: object) -> bool | str | None:
    if value is None or value == "auto" or isinstance(value, bool):
        return value
    raise ValueError('must be true, false or "auto"')


class LrSchedulerArgs(_Strict):
    min_lr_ratio: float = Field(default=0.0, ge=0, le=1)
    num_cycles: float = Field(default=0.5, gt=0)


class LrScheduler(_Strict):
    # Legacy jobs carry "" (lib EmptyLRScheduler); treat it as the default.
    lr_scheduler_type: Literal["linear", "cosine", ""] = "cosine"
    lr_scheduler_args: LrSchedulerArgs | None = None


class TrainingType(_Strict):
    type: Literal["Lora", "Full"]
    lora_r: int | None = Field(default=None, ge=1, le=MAX_LORA)
    lora_alpha: float | None = Field(default=None, gt=0, le=MAX_LORA)
    lora_dropout: float | None = Field(default=None, ge=0, lt=1)
    lora_trainable_modules: str | None = None


class TrainingMethod(_Strict):
    method: Literal["sft", "dpo"] = "sft"
    train_on_inputs: bool | Literal["auto"] | None = None
    dpo_beta: float | None = Field(default=None, ge=0)
    dpo_normalize_logratios_by_length: bool | None = None
    dpo_reference_free: bool | None = None
    rpo_alpha: float | None = Field(default=None, ge=0)
    simpo_gamma: float | None = Field(default=None, ge=0)

    _check_train_on_inputs = field_validator("train_on_inputs", mode="plain")(_bool_or_auto)


class CreateFineTune(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    training_file: str = Field(min_length=1)
    validation_file: str | None = None
    model: str | None = None
    from_checkpoint: str | None = None
    from_hf_model: str | None = None
    hf_model_revision: str | None = None
    hf_api_token: SecretStr | None = None
    hf_output_repo_name: str | None = None
    n_epochs: int = Field(default=1, ge=1)
    n_checkpoints: int = Field(default=1, ge=1)
    n_evals: int = Field(default=0, ge=0)
    batch_size: int | Literal["max"] = "max"
    gradient_accumulation_steps: int | None = Field(default=None, ge=0)
    learning_rate: float = Field(default=1e-5, gt=0)
    lr_scheduler: LrScheduler | None = None
    warmup_ratio: float = Field(default=0.0, ge=0, le=1)
    max_grad_norm: float = Field(default=1.0, ge=0)
    weight_decay: float = Field(default=0.0, ge=0)
    max_seq_length: int | None = Field(default=None, ge=1)
    packing: bool = True
    training_type: TrainingType | None = None
    training_method: TrainingMethod | None = None
    # Deprecated top-level form (the April spec); the SDK sends it inside training_method.
    train_on_inputs: bool | Literal["auto"] | None = None
    suffix: str | None = Field(default=None, max_length=40)
    random_seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    # Accepted for compatibility; the local engine has no W&B and no early stopping.
    wandb_key: SecretStr | None = None
    wandb_api_key: SecretStr | None = None
    wandb_base_url: str | None = None
    wandb_project_name: str | None = None
    wandb_name: str | None = None
    wandb_entity: str | None = None
    early_stopping_enabled: bool = False
    early_stopping_patience: int | None = Field(default=None, ge=1)
    early_stopping_min_delta: float | None = Field(default=None, ge=0)
    early_stopping_warmup_evals: int | None = Field(default=None, ge=0)
    multimodal_params: dict[str, object] | None = None

    _check_batch_size = field_validator("batch_size", mode="plain")(_int_or_max)
    _check_train_on_inputs = field_validator("train_on_inputs", mode="plain")(_bool_or_auto)


class EstimatePrice(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)

    training_file: str = Field(min_length=1)
    validation_file: str | None = None
    model: str | None = None
    from_checkpoint: str | None = None
    # Bounded so that tokens x epochs stays a float (an int of 400 digits does not convert).
    n_epochs: int = Field(default=1, ge=1, le=1_000_000)
    n_evals: int = Field(default=0, ge=0, le=1_000_000)
    training_method: TrainingMethod | None = None
    training_type: TrainingType | None = None
    # byom extension: Together's estimate names no model to tokenize with. Given the custom model, the
    # engine counts tokens with its own tokenizer and chat template, exactly as the trainer will.
    from_hf_model: str | None = None
    hf_model_revision: str | None = None
