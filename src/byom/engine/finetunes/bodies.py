"""The wire bodies the fine-tune routes answer with, declared once (SDK 3.1.1 shapes; ref together-api-2026-11 §2.8).

Strict on purpose (``extra="forbid"``): nothing undeclared reaches a client. ``tests/together`` parses every
answer with the client's own models (``byom.together``), so the two sides cannot drift. Optional fields
that are ``None`` are left out of the JSON (``omitted``): the April spec types most of them without null.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from byom.engine.http import omitted

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
    lora_r: int | None = omitted()
    lora_alpha: float | None = omitted()
    lora_dropout: float | None = omitted()
    lora_trainable_modules: str | None = omitted()


class TrainingMethodEcho(_Body):
    method: Literal["sft", "dpo"]
    train_on_inputs: bool | Literal["auto"] | None = omitted()
    dpo_beta: float | None = omitted()


class LrSchedulerEcho(_Body):
    lr_scheduler_type: str
    lr_scheduler_args: dict[str, float]


class JobEcho(_Body):
    """The request as the job object echoes it: what the engine accepted and will train with. Never secrets."""

    model: str | None = omitted()
    from_hf_model: str | None = omitted()
    hf_model_revision: str | None = omitted()
    from_checkpoint: str | None = omitted()
    training_file: str | None = omitted()
    validation_file: str | None = omitted()
    n_epochs: int | None = omitted()
    n_checkpoints: int | None = omitted()
    n_evals: int | None = omitted()
    batch_size: int | None = omitted()
    gradient_accumulation_steps: int | None = omitted()
    learning_rate: float | None = omitted()
    lr_scheduler: LrSchedulerEcho | None = omitted()
    warmup_ratio: float | None = omitted()
    max_grad_norm: float | None = omitted()
    weight_decay: float | None = omitted()
    max_seq_length: int | None = omitted()
    packing: bool | None = omitted()
    training_type: TrainingTypeEcho | None = omitted()
    training_method: TrainingMethodEcho | None = omitted()
    train_on_inputs: bool | Literal["auto"] | None = omitted()
    suffix: str | None = omitted()
    random_seed: int | None = omitted()
    trainingfile_numlines: int | None = omitted()
    trainingfile_size: int | None = omitted()

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> JobEcho:
        """A stored echo; keys an older engine wrote and this one no longer declares are dropped."""
        return cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})


class JobProgress(_Body):
    estimate_available: bool
    seconds_remaining: int


class JobError(_Body):
    message: str
    stage: str | None = omitted()
    type: str | None = omitted()


class FinetuneJob(JobEcho):
    """``FinetuneResponse``: one job (``POST``/``GET /v1/fine-tunes[/{id}]``, ``…/cancel``)."""

    id: str
    object: Literal["fine-tune"] = "fine-tune"
    job_id: str
    status: str
    user_id: str
    owner_address: str | None = omitted()
    created_at: str | None = omitted()
    updated_at: str | None = omitted()
    started_at: str | None = omitted()
    model_output_name: str | None = omitted()
    output_name: str | None = omitted()
    adapter_output_name: str | None = omitted()
    total_price: int | None = omitted()
    token_count: int | None = omitted()
    param_count: int | None = omitted()
    steps_completed: int | None = omitted()
    total_steps: int | None = omitted()
    epochs_completed: int | None = omitted()
    queue_depth: int | None = omitted()
    progress: JobProgress | None = omitted()
    model_object_id: str | None = omitted()
    model_object_name: str | None = omitted()
    model_object_revision_id: str | None = omitted()
    adapter_object_id: str | None = omitted()
    adapter_object_name: str | None = omitted()
    adapter_object_revision_id: str | None = omitted()
    error: JobError | None = omitted()


class JobList(_Body):
    object: Literal["list"] = "list"
    data: list[FinetuneJob]


class FinetuneEvent(_Body):
    """``FinetuneEvent`` (``GET /v1/fine-tunes/{id}/events``); the April spec's required fields get neutral values."""

    object: Literal["fine-tune-event"] = "fine-tune-event"
    created_at: str
    type: str
    level: str | None = omitted()
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
    stage: str | None = omitted()
    error_type: str | None = omitted()


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
    object_id: str | None = omitted()
    object_name: str | None = omitted()
    object_revision_id: str | None = omitted()


class CheckpointList(_Body):
    object: Literal["list"] = "list"
    data: list[FinetuneCheckpoint]


class Metrics(_Body):
    """``GET /v1/fine-tunes/{id}/metrics``: points of ``{"train/loss": …, "train/global_step": …}``."""

    metrics: list[dict[str, float]]


class Deleted(_Body):
    """``DELETE /v1/fine-tunes/{id}`` (and ``/v1/files/{id}``)."""

    id: str
    object: str | None = omitted()
    deleted: bool
    message: str | None = omitted()


class PriceEstimate(_Body):
    """``POST /v1/fine-tunes/estimate-price``. Local training costs nothing: the price is always 0."""

    estimation_available: bool
    unavailable_reason: str | None = omitted()
    allowed_to_proceed: bool | None = omitted()
    estimated_total_price: float | None = omitted()
    estimated_train_token_count: float | None = omitted()
    estimated_eval_token_count: float | None = omitted()
    user_limit: float | None = omitted()
    # byom extensions: how the tokens were counted, and why only approximately when so.
    token_count_method: Literal["tokenizer", "approximate"] | None = omitted()
    token_count_note: str | None = omitted()
