"""The wire bodies the fine-tune routes answer with, declared once (SDK 3.1.1 shapes; ref together-api-2026-11 §2.8).

Strict on purpose (``extra="forbid"``): nothing undeclared reaches a client. ``tests/together`` parses every
answer with the client's own models (``byom.together``), so the two sides cannot drift. Fields that are
``None`` are left out of the JSON: the April spec types most of them without null.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CheckpointList",
    "Deleted",
    "EventList",
    "FinetuneCheckpoint",
    "FinetuneEvent",
    "FinetuneJob",
    "JobEcho",
    "JobError",
    "JobList",
    "JobProgress",
    "LrSchedulerEcho",
    "Metrics",
    "PriceEstimate",
    "TrainingMethodEcho",
    "TrainingTypeEcho",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class TrainingTypeEcho(_Body):
    type: Literal["Lora", "Full"]
    lora_r: int | None = None
    lora_alpha: float | None = None
    lora_dropout: float | None = None
    lora_trainable_modules: str | None = None


class TrainingMethodEcho(_Body):
    method: Literal["sft", "dpo"]
    train_on_inputs: bool | Literal["auto"] | None = None
    dpo_beta: float | None = None


class LrSchedulerEcho(_Body):
    lr_scheduler_type: str
    lr_scheduler_args: dict[str, float]


class JobEcho(_Body):
    """The request as the job object echoes it: what the engine accepted and will train with. Never secrets."""

    model: str | None = None
    from_hf_model: str | None = None
    hf_model_revision: str | None = None
    from_checkpoint: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    n_epochs: int | None = None
    n_checkpoints: int | None = None
    n_evals: int | None = None
    batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    learning_rate: float | None = None
    lr_scheduler: LrSchedulerEcho | None = None
    warmup_ratio: float | None = None
    max_grad_norm: float | None = None
    weight_decay: float | None = None
    max_seq_length: int | None = None
    packing: bool | None = None
    training_type: TrainingTypeEcho | None = None
    training_method: TrainingMethodEcho | None = None
    train_on_inputs: bool | Literal["auto"] | None = None
    suffix: str | None = None
    random_seed: int | None = None
    trainingfile_numlines: int | None = None
    trainingfile_size: int | None = None

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> JobEcho:
        """A stored echo; keys an older engine wrote and this one no longer declares are dropped."""
        return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})


class JobProgress(_Body):
    estimate_available: bool
    seconds_remaining: int


class JobError(_Body):
    message: str
    stage: str | None = None
    type: str | None = None


class FinetuneJob(JobEcho):
    """``FinetuneResponse``: one job (``POST``/``GET /v1/fine-tunes[/{id}]``, ``…/cancel``)."""

    id: str
    object: Literal["fine-tune"] = "fine-tune"
    job_id: str
    status: str
    user_id: str
    owner_address: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    model_output_name: str | None = None
    output_name: str | None = None
    adapter_output_name: str | None = None
    total_price: int | None = None
    token_count: int | None = None
    param_count: int | None = None
    steps_completed: int | None = None
    total_steps: int | None = None
    epochs_completed: int | None = None
    queue_depth: int | None = None
    progress: JobProgress | None = None
    model_object_id: str | None = None
    model_object_name: str | None = None
    model_object_revision_id: str | None = None
    adapter_object_id: str | None = None
    adapter_object_name: str | None = None
    adapter_object_revision_id: str | None = None
    error: JobError | None = None


class JobList(_Body):
    object: Literal["list"] = "list"
    data: list[FinetuneJob]


class FinetuneEvent(_Body):
    """``FinetuneEvent`` (``GET /v1/fine-tunes/{id}/events``); the April spec's required fields get neutral values."""

    object: Literal["fine-tune-event"] = "fine-tune-event"
    created_at: str
    type: str
    level: str | None = None
    message: str
    step: int = 0
    checkpoint_path: str = ""
    model_path: str = ""
    param_count: int = 0
    token_count: int = 0
    total_steps: int = 0
    wandb_url: str = ""
    training_offset: int = 0
    hash: str = ""
    # Where a job_error event says it failed (the runner's stage and the trainer's exception type).
    stage: str | None = None
    error_type: str | None = None


class EventList(_Body):
    object: Literal["list"] = "list"
    data: list[FinetuneEvent]


class FinetuneCheckpoint(_Body):
    """One checkpoint (``GET /v1/fine-tunes/{id}/checkpoints``), with its registry ids once registered."""

    step: int
    created_at: str
    path: str
    checkpoint_type: Literal["Final", "Intermediate"]
    checkpoint: str
    object_id: str | None = None
    object_name: str | None = None
    object_revision_id: str | None = None


class CheckpointList(_Body):
    object: Literal["list"] = "list"
    data: list[FinetuneCheckpoint]


class Metrics(_Body):
    """``GET /v1/fine-tunes/{id}/metrics``: points of ``{"train/loss": …, "train/global_step": …}``."""

    metrics: list[dict[str, float]]


class Deleted(_Body):
    """``DELETE /v1/fine-tunes/{id}`` (and ``/v1/files/{id}``)."""

    id: str
    object: str | None = None
    deleted: bool
    message: str | None = None


class PriceEstimate(_Body):
    """``POST /v1/fine-tunes/estimate-price``. Local training costs nothing: the price is always 0."""

    estimation_available: bool
    unavailable_reason: str | None = None
    allowed_to_proceed: bool | None = None
    estimated_total_price: float | None = None
    estimated_train_token_count: float | None = None
    estimated_eval_token_count: float | None = None
    user_limit: float | None = None
    # byom extensions: how the tokens were counted, and why only approximately when so.
    token_count_method: Literal["tokenizer", "approximate"] | None = None
    token_count_note: str | None = None
