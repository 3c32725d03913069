"""Pydantic shapes of the Together answers the client reads.

Lenient on purpose (``extra="allow"``, most fields optional): Together adds fields often and legacy
objects carry odd ones (together-python issue #246), and SDK 3.1.1 itself parses without validation
(ref together-api-2026-11 §5.7). Field names follow SDK 3.1.1 as it calls the API (that reference wins
over the April OpenAPI spec). ``/v1`` answers are snake_case; ``/v2`` answers are camelCase on the
wire, declared here with snake_case names and camelCase aliases (either spelling parses).

``tests/together/test_engine_answers_parse.py`` checks that every field the local engine sends is
declared here (nothing lands in ``model_extra``), so the two sides cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = [
    "TERMINAL_STATUSES",
    "Autoscaling",
    "ChatChoice",
    "ChatCompletion",
    "ChatMessage",
    "CompletionChunk",
    "CompletionUsage",
    "DeleteResult",
    "Deployment",
    "DeploymentList",
    "DeploymentStatus",
    "Endpoint",
    "EndpointDeploymentSummary",
    "EndpointEvent",
    "EndpointEventList",
    "EndpointList",
    "ErrorBody",
    "ErrorDetail",
    "FileList",
    "FileObject",
    "FinetuneCheckpoint",
    "FinetuneCheckpointList",
    "FinetuneEvent",
    "FinetuneEventList",
    "FinetuneList",
    "FinetuneMetrics",
    "FinetuneModelLimits",
    "FinetunePreview",
    "FinetunePreviewRow",
    "FinetuneResponse",
    "FullTrainingLimits",
    "InstanceType",
    "InstanceTypeList",
    "JobError",
    "JobProgress",
    "LoraTrainingLimits",
    "LrScheduler",
    "ModelFile",
    "ModelFileList",
    "ModelRevision",
    "ModelRevisionList",
    "PriceEstimate",
    "RegistryModel",
    "RegistryModelList",
    "ServingConfig",
    "ServingConfigList",
    "StreamDelta",
    "SupportedModel",
    "SupportedModelPage",
    "TextChoice",
    "TextCompletion",
    "TrafficSplitEntry",
    "TrainingMethod",
    "TrainingType",
    "ValidationReport",
    "Whoami",
]

# Job statuses that never change again (SDK 3.1.1 ``COMPLETED_STATUSES``, ref §2.9).
TERMINAL_STATUSES = frozenset({"completed", "error", "user_error", "cancelled"})


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Camel(_Lenient):
    """A ``/v2`` shape: camelCase on the wire, snake_case here; ``next_cursor`` stays snake (ref §3.3)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)


_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _lenient_datetime(value: Any) -> datetime | None:
    # ISO strings (the API's), Unix seconds (files' created_at) or datetimes; an odd legacy value
    # reads as unknown rather than failing a whole job list.
    if value is None or value == "":
        return None
    try:
        return _DATETIME.validate_python(value)
    except ValidationError:
        return None


Timestamp = Annotated[datetime | None, BeforeValidator(_lenient_datetime)]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class _ListPage(_Lenient):
    """``{"object": "list", "data": [...]}``; a bare JSON list (older answers) reads as its ``data``."""

    object: str | None = None
    next_cursor: str | None = Field(default=None, validation_alias=AliasChoices("next_cursor", "nextCursor"))

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"data": value} if isinstance(value, list) else value


# ---- models catalogue and limits -------------------------------------------------------------------


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


# ---- files ------------------------------------------------------------------------------------------


class ValidationReport(_Lenient):
    """``validation_report`` of a file: the server's check of the dataset (SDK 3.1.1, ref §1.6)."""

    valid: bool | None = None
    dataset_format: str | None = None
    dataset_has_message_weights: bool | None = None
    dataset_has_parallel_tool_calls: bool | None = None
    dataset_has_reasoning: bool | None = None
    dataset_has_sample_weights: bool | None = None
    dataset_has_tools: bool | None = None
    dataset_is_multimodal: bool | None = None
    # Present only together with error_type ("INVALID_FORMAT").
    error: str | None = None
    error_type: str | None = None
    file_id: str | None = None
    nlines: int | None = None


class FileObject(_Lenient):
    """A file: ``GET /v1/files/{id}``, ``POST /v1/files/{id}/preprocess``, ``POST /v1/files/upload`` (ref §1.6)."""

    id: str
    object: str | None = None
    created_at: Timestamp = None  # Unix seconds on the wire
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None
    file_type: str | None = Field(default=None, validation_alias=AliasChoices("FileType", "file_type"))
    # PENDING | QUEUED | RUNNING | COMPLETED | FAILED | INVALID_FORMAT; absent on old files.
    processing_status: str | None = None
    validation_report: ValidationReport | None = None
    # The April spec's readiness flag and line count; SDK 3.1.1 has neither (ref §1.6).
    processed: bool | None = Field(default=None, validation_alias=AliasChoices("Processed", "processed"))
    line_count: int | None = Field(default=None, validation_alias=AliasChoices("LineCount", "line_count"))

    @field_validator("processing_status", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def is_ready(self) -> bool:
        """Validated and usable for training (``Processed`` stands in on files from before validation)."""
        if self.processing_status is not None:
            return self.processing_status == "COMPLETED"
        return bool(self.processed)

    @property
    def is_pending(self) -> bool:
        return self.processing_status in ("PENDING", "QUEUED", "RUNNING")

    @property
    def is_rejected(self) -> bool:
        return self.processing_status in ("FAILED", "INVALID_FORMAT")


class FileList(_ListPage):
    """``GET /v1/files``: unpaginated ``{data: [...]}`` (ref §5.8)."""

    data: list[FileObject] = Field(default_factory=list)


class DeleteResult(_Lenient):
    """``DELETE /v1/files/{id}`` and ``DELETE /v1/fine-tunes/{id}``."""

    id: str | None = None
    object: str | None = None
    deleted: bool | None = None
    message: str | None = None


# ---- fine-tune jobs ---------------------------------------------------------------------------------


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


def _error_object(value: Any) -> Any:
    return {"message": value} if isinstance(value, str) else value


class MultimodalParams(_Lenient):
    train_vision: bool | None = None


class FinetuneEvent(_Lenient):
    """One ``FinetuneEvent`` (``GET /v1/fine-tunes/{id}/events``, ref §2.9).

    ``type`` and ``level`` are lower-cased: SDK 3.1.1's lib enum uses UPPERCASE and ``Info``/``Warning``
    spellings of the same values, so compare them case-insensitively (ref §2.9).
    """

    object: str | None = None
    created_at: Timestamp = None
    type: str | None = None
    level: str | None = None
    message: str | None = None
    step: int | None = None
    checkpoint_path: str | None = None
    model_path: str | None = None
    param_count: int | None = None
    token_count: int | None = None
    total_steps: int | None = None
    wandb_url: str | None = None
    tokenized_dataset_path: str | None = None
    early_stopping_best_metric_value: float | None = None
    early_stopping_best_step: int | None = None
    # April-spec fields (dropped by SDK 3.1.1).
    training_offset: int | None = None
    hash: str | None = None
    # The local engine's job_error events also say where and how the job failed.
    stage: str | None = None
    error_type: str | None = None

    _norm_level = field_validator("level", mode="before")(_lower)

    @field_validator("type", mode="before")
    @classmethod
    def _norm_type(cls, value: Any) -> Any:
        value = _lower(value)
        # The lib enum's value for model_compressing (ref §2.9).
        return "model_compressing" if value == "compressing_model" else value

    @property
    def severity(self) -> str:
        """``error``, ``warning`` or ``info`` (legacy ``legacy_iwarning``/``legacy_ierror`` included)."""
        level = self.level or ""
        if level.endswith("error") or self.type in ("job_error", "job_user_error"):
            return "error"
        if level.endswith("warning"):
            return "warning"
        return "info"


class FinetuneEventList(_ListPage):
    """``GET /v1/fine-tunes/{id}/events``: ``{data: [FinetuneEvent]}``."""

    data: list[FinetuneEvent] = Field(default_factory=list)


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


class FinetuneCheckpoint(_Lenient):
    """One entry of ``GET /v1/fine-tunes/{id}/checkpoints`` (ref §2.8)."""

    step: int | None = None
    created_at: Timestamp = None
    path: str | None = None
    checkpoint_type: str | None = None  # a display label: "Final", "Intermediate"
    checkpoint: str | None = None  # "model" | "adapter": the download selector
    # Registry ids that make the checkpoint deployable (ref §3.12).
    object_id: str | None = None
    object_name: str | None = None
    object_revision_id: str | None = None


class FinetuneCheckpointList(_ListPage):
    """``GET /v1/fine-tunes/{id}/checkpoints``: ``{data: [FinetuneCheckpoint]}``."""

    data: list[FinetuneCheckpoint] = Field(default_factory=list)


class FinetuneMetrics(_Lenient):
    """``GET /v1/fine-tunes/{id}/metrics``: ``{metrics: [{"<name>": value, "train/global_step": step}]}``.

    Each point maps metric names (``train/loss``, ``train/learning_rate``, ``train/epoch``, ...) to numbers.
    """

    metrics: list[dict[str, float | None]] = Field(default_factory=list)

    def series(self, name: str) -> list[tuple[float, float]]:
        """``(global_step, value)`` pairs of one metric, in step order."""
        points: list[tuple[float, float]] = []
        for point in self.metrics:
            step, value = point.get("train/global_step"), point.get(name)
            if step is not None and value is not None:
                points.append((step, value))
        return sorted(points)


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


# ---- identity ---------------------------------------------------------------------------------------


class _IdName(_Lenient):
    id: str | None = None
    name: str | None = None


class WhoamiProject(_IdName):
    slug: str | None = None


class Whoami(_Lenient):
    """``GET /v3/whoami``, discriminated by ``type`` (``project_api_key``, ``org_api_key``, ``user_*``; ref §3.2)."""

    type: str | None = None
    api_key: _IdName | None = None
    organization: _IdName | None = None
    project: WhoamiProject | None = None
    user: _IdName | None = None


# ---- v2 model registry, configs and hardware ------------------------------------------------------


class DtypeCount(_Camel):
    dtype: str | None = None
    count: str | int | None = None  # an int64 as a string


class WeightParameters(_Camel):
    total: str | int | None = None  # an int64 as a string
    by_dtype: list[DtypeCount] | None = None


class ModelWeights(_Camel):
    type: str | None = None  # WEIGHTS_TYPE_DEFAULT | WEIGHTS_TYPE_ADAPTER | WEIGHTS_TYPE_SPECULATOR
    architecture: str | None = None
    context_length: str | int | None = None
    parameters: WeightParameters | None = None
    speculator_mechanism: str | None = None
    draft_speculator_type: str | None = None

    @property
    def is_adapter(self) -> bool:
        return self.type == "WEIGHTS_TYPE_ADAPTER"


class RegistryModel(_Camel):
    """A project registry model: ``GET /v2/projects/{pid}/models/{id}`` and list entries (ref §3.8)."""

    id: str
    name: str | None = None  # <project_slug>/<model_name>
    organization_id: str | None = None
    project_id: str | None = None
    visibility: str | None = None
    weights: ModelWeights | None = None
    description: str | None = None
    base_model: str | None = None  # projects/{p}/models/{id}
    base_model_id: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None

    def resource_name(self, revision_id: str | None = None) -> str:
        """The deploy ``model`` string: ``projects/{p}/models/{id}[/revisions/{rv}]`` (ref §3.12)."""
        name = f"projects/{self.project_id}/models/{self.id}"
        return f"{name}/revisions/{revision_id}" if revision_id else name


class RegistryModelList(_ListPage):
    """``GET /v2/projects/{pid}/models``: ``{data, next_cursor}``."""

    data: list[RegistryModel] = Field(default_factory=list)


class RevisionValidationError(_Camel):
    message: str | None = None
    rule: str | None = None
    severity: str | None = None


class ModelRevision(_Camel):
    """One entry of ``GET /v2/projects/{pid}/models/{id}/revisions`` (ref §3.8)."""

    id: str | None = None
    revision_id: str | None = None
    created_at: Timestamp = None
    validation_status: str | None = None
    validation_errors: list[RevisionValidationError] | None = None
    last_validated_at: Timestamp = None

    @property
    def rid(self) -> str | None:
        """The revision id (``revisionId``, else ``id``)."""
        return self.revision_id or self.id


class ModelRevisionList(_ListPage):
    """``GET /v2/projects/{pid}/models/{id}/revisions``: ``{data, next_cursor}``."""

    data: list[ModelRevision] = Field(default_factory=list)


class ModelFile(_Camel):
    path: str | None = None
    hash: str | None = None
    size_bytes: str | int | None = None  # an int64 as a string


class ModelFileList(_ListPage):
    """``GET /v2/projects/{pid}/models/{id}/files[?revisionId=]`` (ref §3.8)."""

    data: list[ModelFile] = Field(default_factory=list)
    revision_id: str | None = Field(default=None, alias="revisionId")
    revision_created_at: Timestamp = Field(default=None, alias="revisionCreatedAt")
    total_size_bytes: str | int | None = Field(default=None, alias="totalSizeBytes")


class ConfigSelector(_Camel):
    key: str | None = None
    value: str | None = None


class ConfigCertification(_Camel):
    certification_type: str | None = None
    certified_at: Timestamp = None
    certified_by: str | None = None
    model: str | None = None
    model_revision_id: str | None = None
    target: str | None = None
    draft_model: str | None = None
    draft_model_revision_id: str | None = None
    notes: str | None = None


class ServingConfig(_Camel):
    """A serving config (``cr_…``): ``GET /v2/projects/{pid}/configs[/{id}]`` (ref §3.6). It fixes the hardware."""

    id: str
    project_id: str | None = None
    reference_model: str | None = None
    reference_model_id: str | None = None
    selectors: list[ConfigSelector] = Field(default_factory=list)
    certifications: list[ConfigCertification] | None = None
    draft_model: str | None = None
    description: str | None = None

    def selector(self, key: str) -> str | None:
        return next((s.value for s in self.selectors if s.key == key), None)

    @property
    def instance_type(self) -> str | None:
        """``{accelerator_count}x{accelerator_type}``, the instance type name (the CLI's rule, ref §3.6)."""
        kind = self.selector("accelerator_type")
        return f"{self.selector('accelerator_count') or 1}x{kind}" if kind else None

    @property
    def resource_name(self) -> str:
        """The deploy ``config`` string: ``projects/{p}/configs/{id}``."""
        return f"projects/{self.project_id}/configs/{self.id}"


class ServingConfigList(_ListPage):
    """``GET /v2/projects/{pid}/configs?referenceModel=``: ``{data, next_cursor}``."""

    data: list[ServingConfig] = Field(default_factory=list)


class Headroom(_Camel):
    relation: str | None = None
    value: int | None = None


class InstanceRegion(_Camel):
    name: str | None = None
    headroom: Headroom | None = None
    compliance: list[dict[str, Any]] | None = None


class InstanceType(_Camel):
    """Hardware: ``GET /v2/public/inference-instance-types[/{id}]`` entries (ref §3.7)."""

    id: str
    name: str | None = None  # e.g. 1xnvidia-h100-80gb
    description: str | None = None
    gpu_count: int | None = None
    gpu_memory_gib: float | None = None
    gpu_type: str | None = None
    price_cents_per_hour: float | None = None  # per running replica
    regions: list[InstanceRegion] | None = None

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.price_cents_per_hour is None else self.price_cents_per_hour / 100


class InstanceTypeList(_ListPage):
    """``GET /v2/public/inference-instance-types``: the whole catalogue, ``next_cursor: null``."""

    data: list[InstanceType] = Field(default_factory=list)


# ---- v2 endpoints and deployments -------------------------------------------------------------------


class ScalingPolicy(_Camel):
    period_seconds: int | None = None
    type: str | None = None
    value: int | None = None


class ScalingBehavior(_Camel):
    policies: list[ScalingPolicy] | None = None
    select_policy: str | None = None


class ScalingMetric(_Camel):
    name: str | None = None
    type: str | None = None
    target: float | None = None
    percentile: str | None = None


class Autoscaling(_Camel):
    """``autoscaling`` of a deployment; 0/0 replicas means stopped (ref §3.5)."""

    min_replicas: int | None = None
    max_replicas: int | None = None
    scale_up_window: str | None = None  # protobuf Duration JSON, e.g. "300s"
    scale_down_window: str | None = None
    scale_to_zero_window: str | None = None
    scale_up: ScalingBehavior | None = None
    scale_down: ScalingBehavior | None = None
    scaling_metrics: list[ScalingMetric] | None = None


class TrafficSplitEntry(_Camel):
    deployment_id: str
    weight: float = 0.0


class EndpointDeploymentSummary(_Camel):
    """One ``deployments[]`` entry of an endpoint (``EndpointDeploymentSummary``, ref §3.4)."""

    id: str
    name: str | None = None
    model: str | None = None
    model_id: str | None = None
    state: str | None = None
    ready_replicas: int | None = None
    desired_replicas: int | None = None
    hardware: str | None = None
    autoscaling: Autoscaling | None = None
    estimated_effective_traffic_share: float | None = None
    traffic_mode: str | None = None
    created_at: Timestamp = None


class Endpoint(_Camel):
    """An endpoint (``ep_…``): ``POST/GET/PATCH /v2/projects/{pid}/endpoints[/{id}]`` (ref §3.4).

    ``name`` (``<project_slug>/<endpoint_name>``) is the inference ``model`` string.
    """

    id: str
    name: str | None = None
    project_id: str | None = None
    endpoint_type: str | None = None
    visibility: str | None = None
    traffic_split: list[TrafficSplitEntry] = Field(default_factory=list)
    deployments: list[EndpointDeploymentSummary] = Field(default_factory=list)
    etag: str | None = None
    active_rollout_id: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class EndpointList(_ListPage):
    """``GET /v2/projects/{pid}/endpoints``: ``{data, next_cursor}``."""

    data: list[Endpoint] = Field(default_factory=list)


class RegionStatus(_Camel):
    region: str | None = None
    ready_replicas: int | None = None
    scheduled_replicas: int | None = None


class DeploymentStatusDetails(_Camel):
    region: list[RegionStatus] | None = None


class DeploymentStatus(_Camel):
    """``status`` of a deployment: ``DEPLOYMENT_STATE_*`` and a message (ref §3.5)."""

    state: str | None = None
    message: str | None = None
    ready_replicas: int | None = None
    scheduled_replicas: int | None = None
    details: DeploymentStatusDetails | None = None

    @property
    def is_ready(self) -> bool:
        return self.state == "DEPLOYMENT_STATE_READY"

    @property
    def is_failed(self) -> bool:
        return self.state == "DEPLOYMENT_STATE_FAILED"


class RuntimeInfo(_Camel):
    engine_type: str | None = None
    engine_version: str | None = None
    function_calling_supported: bool | None = None
    structured_output_supported: bool | None = None


class Deployment(_Camel):
    """A deployment (``dep_…``): ``POST/GET/PATCH …/endpoints/{ep}/deployments[/{id}]`` (ref §3.5)."""

    id: str
    name: str | None = None  # <slug>/<endpoint>/<deployment>: a pinned inference model string
    endpoint_id: str | None = None
    project_id: str | None = None
    model: str | None = None  # projects/{p}/models/{ml}/revisions/{rv}
    model_id: str | None = None
    model_revision_id: str | None = None
    config: str | None = None
    config_id: str | None = None
    hardware: str | None = None
    autoscaling: Autoscaling | None = None
    status: DeploymentStatus | None = None
    desired_replicas: int | None = None
    estimated_effective_traffic_share: float | None = None
    traffic_mode: str | None = None
    inactive_timeout: int | None = None  # minutes; 0 or absent = never auto-stop
    max_concurrent_requests_per_replica: str | int | None = None  # an int64 as a string
    placement: dict[str, Any] | None = None
    runtime_info: RuntimeInfo | None = None
    speculator: str | None = None
    speculator_id: str | None = None
    speculator_revision_id: str | None = None
    etag: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None

    @property
    def state(self) -> str | None:
        return self.status.state if self.status else None


class DeploymentList(_ListPage):
    """``GET /v2/projects/{pid}/endpoints/{ep}/deployments``: ``{data, next_cursor}``."""

    data: list[Deployment] = Field(default_factory=list)


class EndpointEvent(_Camel):
    """One entry of ``GET /v2/projects/{pid}/endpoints/{ep}/events``, newest first (ref §3.5)."""

    id: str | None = None
    created_at: Timestamp = None
    endpoint_id: str | None = None
    deployment_id: str | None = None
    subject_id: str | None = None
    level: str | None = None  # LEVEL_DEBUG | LEVEL_INFO | LEVEL_WARN | LEVEL_ERROR
    source: str | None = None
    source_kind: str | None = None
    type: str | None = None  # e.g. deployment.created, condition.set, pod.log
    message: str | None = None
    reason: str | None = None
    status: str | dict[str, Any] | None = None
    log_excerpt: str | None = None  # crash or OOM diagnostics
    cluster_id: str | None = None
    container_name: str | None = None
    node_id: str | None = None
    replica_id: str | None = None
    service_type: str | None = None
    old_replicas: int | None = None
    new_replicas: int | None = None
    paths: list[str] | None = None
    name: str | None = None
    version: str | None = None


class EndpointEventList(_ListPage):
    """``GET /v2/projects/{pid}/endpoints/{ep}/events``: ``{data, next_cursor}``."""

    data: list[EndpointEvent] = Field(default_factory=list)


class AdapterClusterState(_Camel):
    """One ``perCluster[]`` entry of an attached adapter: its load state on one cluster (ref §3.9)."""

    adapter_model_id: str | None = None
    cluster_id: str | None = None
    state: str | None = None  # ADAPTER_LOAD_STATE_PENDING | LOADING | READY | REMOVING | FAILED
    ready_pod_count: int | None = None
    failed_pod_count: int | None = None
    total_pod_count: int | None = None
    adapter_model: str | None = None  # projects/{p}/models/{ml}
    adapter_valid: bool | None = None
    adapter_valid_reason: str | None = None
    message: str | None = None
    reason: str | None = None
    loaded_at: Timestamp = None
    realized_revision_id: str | None = None
    realized_revision: str | None = None
    realized_etag: str | None = None
    updated_at: Timestamp = None


class DeploymentAdapter(_Camel):
    """A LoRA adapter attached to a deployment (``dad_…``): ``…/deployments/{dep}/adapters[/{id}]`` (ref §3.9).

    Update and delete need its ``etag``.
    """

    id: str
    adapter_model_id: str | None = None
    desired_revision_id: str | None = None
    etag: str | None = None
    adapter_model: str | None = None  # projects/{p}/models/{ml}
    desired_revision: str | None = None  # projects/{p}/models/{ml}/revisions/{rv}
    per_cluster: list[AdapterClusterState] = Field(default_factory=list)

    @property
    def state(self) -> str | None:
        """The load state: FAILED if any cluster failed, READY if all are, else the first cluster's."""
        states = [c.state for c in self.per_cluster if c.state]
        if not states:
            return None
        if "ADAPTER_LOAD_STATE_FAILED" in states:
            return "ADAPTER_LOAD_STATE_FAILED"
        if all(s == "ADAPTER_LOAD_STATE_READY" for s in states):
            return "ADAPTER_LOAD_STATE_READY"
        return next(s for s in states if s != "ADAPTER_LOAD_STATE_READY")


class DeploymentAdapterList(_ListPage):
    """``GET …/deployments/{dep}/adapters``: ``{data, next_cursor}``."""

    data: list[DeploymentAdapter] = Field(default_factory=list)


# ---- inference --------------------------------------------------------------------------------------


class CompletionUsage(_Lenient):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class ChatMessage(_Lenient):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatChoice(_Lenient):
    index: int | None = None
    message: ChatMessage | None = None
    finish_reason: str | None = None  # stop | eos | length | tool_calls | function_call
    logprobs: Any = None
    seed: int | None = None
    text: str | None = None
    top_logprobs: Any = None


class PromptPart(_Lenient):
    text: str | None = None
    logprobs: Any = None


class _Warning(_Lenient):
    message: str | None = None


class ChatCompletion(_Lenient):
    """``POST /v1/chat/completions`` without ``stream`` (ref §4.3)."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    prompt: list[PromptPart] | None = None
    choices: list[ChatChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None
    warnings: list[_Warning] | None = None

    @property
    def text(self) -> str | None:
        """The first choice's message content."""
        first = self.choices[0] if self.choices else None
        return first.message.content if first is not None and first.message is not None else None


class TextChoice(_Lenient):
    index: int | None = None
    text: str | None = None
    finish_reason: str | None = None
    logprobs: Any = None
    seed: int | None = None


class TextCompletion(_Lenient):
    """``POST /v1/completions`` without ``stream``."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    prompt: list[PromptPart] | None = None
    choices: list[TextChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None
    warnings: list[_Warning] | None = None


class StreamDelta(_Lenient):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    token_id: int | None = None
    tool_calls: list[dict[str, Any]] | None = None


class StreamChoice(_Lenient):
    index: int | None = None
    delta: StreamDelta | None = None
    text: str | None = None  # text completions
    finish_reason: str | None = None
    logprobs: Any = None


class StreamToken(_Lenient):
    """The ``token`` of a streamed text completion chunk (Together's legacy stream shape)."""

    id: int | None = None
    text: str | None = None
    logprob: float | None = None
    special: bool | None = None


class ErrorDetail(_Lenient):
    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class CompletionChunk(_Lenient):
    """One SSE ``data:`` object of a streamed chat or text completion (``stream: true``, ref §4.3).

    ``usage`` comes on the last chunk; a chunk with ``error`` means generation failed (the SDK raises).
    ``data: [DONE]`` ends the stream and is not a chunk.
    """

    id: str | None = None
    object: str | None = None  # chat.completion.chunk | completion.chunk
    created: int | None = None
    model: str | None = None
    choices: list[StreamChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None
    token: StreamToken | None = None
    finish_reason: str | None = None
    error: ErrorDetail | None = None

    @property
    def text(self) -> str:
        """This chunk's piece of text (chat ``delta.content`` or completion ``text``)."""
        pieces = []
        for choice in self.choices:
            if choice.delta is not None and choice.delta.content:
                pieces.append(choice.delta.content)
            elif choice.text:
                pieces.append(choice.text)
        return "".join(pieces)


# ---- errors -----------------------------------------------------------------------------------------


class ErrorBody(_Lenient):
    """Together's error answer: ``{"error": {"message", "type", "param", "code"}}`` (ref §5.6).

    A duplicate upload's 409 adds a top-level ``file_id`` (ref §1.3); the limits 404 also has a top-level
    ``message``.
    """

    error: Annotated[ErrorDetail | None, BeforeValidator(_error_object)] = None
    message: str | None = None
    file_id: str | None = None

    @property
    def text(self) -> str | None:
        """The most specific message the body carries."""
        return (self.error.message if self.error else None) or self.message


# ---- fine-tune preview ------------------------------------------------------------------------------


class FinetunePreviewRow(_Lenient):
    """One tokenized row of ``POST /v1/fine-tunes/preview`` (SDK 3.1.1 ``FineTunePreviewRow``)."""

    input_ids: list[int] = []
    labels: list[int] = []  # -100 = no loss
    num_tokens: int = 0
    num_trained_tokens: int = 0
    tokens: list[str] = []
    trained_spans: list[list[int]] = []  # half-open [start, end) token ranges with loss
    truncated: bool = False


class FinetunePreview(_Lenient):
    """``POST /v1/fine-tunes/preview``: how the first rows of a file tokenize (SDK ``FineTunePreviewResponse``)."""

    dataset_format: str | None = None
    max_seq_length: int | None = None
    model: str | None = None
    rows: list[FinetunePreviewRow] = []
    train_on_inputs: bool | None = None
