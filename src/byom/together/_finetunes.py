"""Fine-tune jobs (``/v1/fine-tunes``): the job, its settings, lists, price estimates and previews."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    field_validator,
)

from byom.together._job_records import FinetuneEvent
from byom.together._shapes import Timestamp, _error_object, _Lenient, _ListPage, _lower

__all__ = [
    "TERMINAL_STATUSES",
    "FinetuneList",
    "FinetunePreview",
    "FinetunePreviewRow",
    "FinetuneResponse",
    "JobError",
    "JobProgress",
    "LrScheduler",
    "PriceEstimate",
    "TrainingMethod",
    "TrainingType",
]


# Job statuses that never change again (SDK 3.1.1 ``COMPLETED_STATUSES``, ref §2.9).
TERMINAL_STATUSES = frozenset({"completed", "error", "user_error", "cancelled"})


class LrSchedulerArgs(_Lenient):
    min_lr_ratio: float | None = None
    num_cycles: float | None = None


class LrScheduler(_Lenient):
    """``lr_scheduler`` of a job; legacy jobs carry ``lr_scheduler_type: ""`` (ref §2.8)."""

    lr_scheduler_type: str | None = None
    lr_scheduler_args: LrSchedulerArgs | None = None


class TrainingType(_Lenient):
    """``training_type``: ``{type: "Full"}`` or ``{type: "Lora", lora_r, lora_alpha, ...}`` (ref §2.8)."""

    type: str | None = None
    lora_r: int | None = None
    lora_alpha: float | None = None
    lora_dropout: float | None = None
    lora_trainable_modules: str | None = None

    @property
    def is_lora(self) -> bool:
        return (self.type or "").lower() == "lora"


class TrainingMethod(_Lenient):
    """``training_method``: SFT ``{method, train_on_inputs}`` or DPO ``{method, dpo_beta, ...}`` (ref §2.6)."""

    method: str | None = None
    train_on_inputs: bool | str | None = None
    dpo_beta: float | None = None
    dpo_normalize_logratios_by_length: bool | None = None
    dpo_reference_free: bool | None = None
    rpo_alpha: float | None = None
    simpo_gamma: float | None = None


class JobProgress(_Lenient):
    """``progress``: seconds until the job's next state, when the server can tell (ref §2.8)."""

    estimate_available: bool | None = None
    seconds_remaining: float | None = None


class JobError(_Lenient):
    """``error`` of a failed job (a bare string on odd records reads as its message)."""

    message: str | None = None
    stage: str | None = None
    type: str | None = None


class MultimodalParams(_Lenient):
    train_vision: bool | None = None


class FinetuneResponse(_Lenient):
    """A fine-tune job: ``GET /v1/fine-tunes/{id}``, ``POST /v1/fine-tunes``, ``POST …/cancel`` (ref §2.8).

    Also each entry of ``GET /v1/fine-tunes``; old jobs in that list may lack most fields, carry
    statuses this client does not know, ``batch_size: "max"`` or ``lr_scheduler_type: ""``.
    """

    id: str
    object: str | None = None
    job_id: str | None = None
    # Lower-cased; any string is kept (the lib type allows unknown statuses).
    status: str | None = None
    user_id: str | None = None
    owner_address: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    started_at: Timestamp = None
    # inputs
    model: str | None = None
    training_file: str | None = None
    validation_file: str | None = None
    from_checkpoint: str | None = None
    from_hf_model: str | None = None
    hf_model_revision: str | None = None
    # hyperparameters
    n_epochs: int | None = None
    n_checkpoints: int | None = None
    n_evals: int | None = None
    eval_steps: int | None = None
    batch_size: int | str | None = None  # an int, or "max"
    gradient_accumulation_steps: int | None = None
    learning_rate: float | None = None
    lr_scheduler: LrScheduler | None = None
    warmup_ratio: float | None = None
    max_grad_norm: float | None = None
    weight_decay: float | None = None
    max_seq_length: int | None = None
    packing: bool | None = None
    train_on_inputs: bool | str | None = None  # deprecated top-level copy of training_method's
    training_method: TrainingMethod | None = None
    training_type: TrainingType | None = None
    multimodal_params: MultimodalParams | None = None
    suffix: str | None = None
    random_seed: int | None = None
    # accounting
    total_price: float | None = None  # nano-dollars; see price_usd
    token_count: int | None = None
    param_count: int | None = None
    trainingfile_numlines: int | None = Field(
        default=None, validation_alias=AliasChoices("trainingfile_numlines", "TrainingFileNumLines")
    )
    trainingfile_size: int | None = Field(
        default=None, validation_alias=AliasChoices("trainingfile_size", "TrainingFileSize")
    )
    # progress
    progress: JobProgress | None = None
    steps_completed: int | None = None
    total_steps: int | None = None
    epochs_completed: float | None = None
    evals_completed: int | None = None
    queue_depth: int | None = None
    events: list[FinetuneEvent | str] | None = None
    # W&B
    wandb_project_name: str | None = None
    wandb_name: str | None = None
    wandb_entity: str | None = None
    wandb_base_url: str | None = None
    wandb_url: str | None = None
    # outputs: the legacy name (for /v1/finetune/download and from_checkpoint) and the registry ids
    model_output_name: str | None = None
    output_name: str | None = None  # the sync create's name for model_output_name
    model_output_path: str | None = None
    adapter_output_name: str | None = None
    model_object_id: str | None = None
    model_object_name: str | None = None
    model_object_revision_id: str | None = None
    adapter_object_id: str | None = None
    adapter_object_name: str | None = None
    adapter_object_revision_id: str | None = None
    # early stopping, tokenized dataset
    early_stopped: bool | None = None
    early_stopping_best_step: int | None = None
    early_stopping_best_metric: float | None = None
    tokenized_dataset_path: str | None = None
    tokenized_dataset_uploaded_at: Timestamp = None
    error: Annotated[JobError | None, BeforeValidator(_error_object)] = None

    _norm_status = field_validator("status", mode="before")(_lower)

    @property
    def price_usd(self) -> float | None:
        """``total_price`` in US dollars (the API counts nano-dollars, ref §2.8)."""
        return None if self.total_price is None else self.total_price / 1e9

    @property
    def output_model(self) -> str | None:
        """The job's output model name (``model_output_name``, or the create answer's ``output_name``)."""
        return self.model_output_name or self.output_name

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_lora(self) -> bool | None:
        """True for LoRA jobs; ``None`` when the answer does not say."""
        return None if self.training_type is None else self.training_type.is_lora


class FinetuneList(_ListPage):
    """``GET /v1/fine-tunes``: unpaginated ``{data: [...]}`` (ref §5.8); a bare list also reads."""

    data: list[FinetuneResponse] = Field(default_factory=list)


class PriceEstimate(_Lenient):
    """``POST /v1/fine-tunes/estimate-price`` (ref §2.6); a missing ``estimation_available`` means available."""

    estimation_available: bool = True
    unavailable_reason: str | None = None
    allowed_to_proceed: bool | None = None
    estimated_total_price: float | None = None  # USD
    estimated_train_token_count: float | None = None
    estimated_eval_token_count: float | None = None
    user_limit: float | None = None  # USD
    # The local engine's: "tokenizer" (exact, with from_hf_model) or "approximate".
    token_count_method: str | None = None


class FinetunePreviewRow(_Lenient):
    """One tokenized row of ``POST /v1/fine-tunes/preview`` (SDK 3.1.1 ``FineTunePreviewRow``)."""

    input_ids: list[int] = Field(default_factory=list)
    labels: list[int] = Field(default_factory=list)  # -100 = no loss
    num_tokens: int = 0
    num_trained_tokens: int = 0
    tokens: list[str] = Field(default_factory=list)
    trained_spans: list[list[int]] = Field(
        default_factory=list
    )  # half-open [start, end) token ranges with loss
    truncated: bool = False


class FinetunePreview(_Lenient):
    """``POST /v1/fine-tunes/preview``: how the first rows of a file tokenize (SDK ``FineTunePreviewResponse``)."""

    dataset_format: str | None = None
    max_seq_length: int | None = None
    model: str | None = None
    rows: list[FinetunePreviewRow] = Field(default_factory=list)
    train_on_inputs: bool | None = None
