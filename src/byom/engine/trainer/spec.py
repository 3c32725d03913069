"""The contract between the engine service and a trainer subprocess.

The engine writes a ``TrainSpec`` as ``<job_dir>/spec.json`` and starts
``python -m byom.engine.trainer <job_dir>/spec.json``. The trainer appends one JSON
object per line to ``<job_dir>/progress.jsonl`` (flushed after each line) — a
``ProgressLine``, one of the typed lines below, told apart by ``kind`` — and exits 0 on success, non-zero on failure. Secrets never go into
the spec: an HF token reaches the subprocess only through its ``HF_TOKEN`` environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from byom.data import context_length  # the one reading of a config's context, re-exported for the engine

__all__ = [
    "CheckpointLine",
    "ErrorLine",
    "EventLine",
    "LoraSpec",
    "MetricLine",
    "ProgressLine",
    "ResultLine",
    "TrainSpec",
    "context_length",
    "parse_progress_line",
    "progress_line",
]


class LoraSpec(BaseModel):
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    trainable_modules: str = "all-linear"  # comma-separated module names, or "all-linear"


class TrainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    job_dir: Path
    # What to train: a Hub repo id or a local directory, and where to start from.
    from_hf_model: str
    hf_model_revision: str | None = None
    init_checkpoint: Path | None = None  # from_checkpoint: a saved checkpoint dir of another job
    init_from: str | None = None  # that checkpoint as a person names it: "ft-… step 24", for the job's events
    resume_checkpoint: Path | None = None  # restart after a crash: this job's own last checkpoint
    # Data: paths of validated JSONL files.
    training_file: Path
    validation_file: Path | None = None
    # Hyperparameters, with Together's meanings and defaults.
    n_epochs: int = 1
    n_checkpoints: int = 1
    n_evals: int = 0
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 1e-5
    lr_scheduler_type: Literal["linear", "cosine"] = "cosine"
    min_lr_ratio: float = 0.0
    num_cycles: float = 0.5
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0  # 0 disables clipping
    weight_decay: float = 0.0
    max_seq_length: int = 2048
    packing: bool = True
    training_type: Literal["lora", "full"] = "lora"
    lora: LoraSpec = Field(default_factory=LoraSpec)
    method: Literal["sft", "dpo"] = "sft"
    train_on_inputs: bool | Literal["auto"] = "auto"
    dpo_beta: float = 0.1
    random_seed: int = 42
    merge_lora: bool = True  # also write a merged full model for LoRA jobs
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...


class _Line(BaseModel):
    # Extra fields are kept (an event's checkpoint_path, model_path, total_steps): the engine stores only the
    # fields below, and a newer trainer may add more.
    model_config = ConfigDict(extra="allow")

    time: float


class EventLine(_Line):
    """Something happened: ``type`` is Together's lowercase event type."""

    kind: Literal["event"]
    type: str = "info"
    message: str = ""
    level: str = "info"
    step: int | None = None


class MetricLine(_Line):
    """Values logged at ``step`` (e.g. ``train/loss``, ``train/learning_rate``, ``eval/loss``)."""

    kind: Literal["metric"]
    step: int
    values: dict[str, float] = Field(default_factory=dict)
    total_steps: int | None = None

    @field_validator("values", mode="before")
    @classmethod
    def _numbers_only(cls, values: object) -> object:
        # A value that is not a number (a trainer's None, a string) is dropped, not the whole line.
        if not isinstance(values, dict):
            return values
        return {k: v for k, v in values.items() if isinstance(v, int | float)}


class CheckpointLine(_Line):
    """A checkpoint saved at ``step`` in ``path`` (a dir with safetensors)."""

    kind: Literal["checkpoint"]
    step: int
    path: Annotated[str, Field(min_length=1)]
    checkpoint: Literal["adapter", "model"] = "adapter"
    final: bool = False


class ResultLine(_Line):
    """Training finished and the outputs are saved: ``outputs`` maps adapter/model/merged to a path or None."""

    kind: Literal["result"]
    outputs: dict[str, str | None] = Field(default_factory=dict)
    token_count: int | None = None
    param_count: int | None = None
    total_steps: int | None = None


class ErrorLine(_Line):
    """The trainer failed: ``stage`` (download|initialization|training|saving), the root error line, its type."""

    kind: Literal["error"]
    stage: str | None = None
    message: str = ""
    error_type: str | None = None


# One line of ``progress.jsonl``, told apart by ``kind``.
ProgressLine = Annotated[
    EventLine | MetricLine | CheckpointLine | ResultLine | ErrorLine, Field(discriminator="kind")
]
_PROGRESS_LINE: TypeAdapter[ProgressLine] = TypeAdapter(ProgressLine)


def progress_line(fields: dict[str, Any]) -> ProgressLine:
    """Validate one line's fields (raises ``pydantic.ValidationError``): what the trainer writes."""
    return _PROGRESS_LINE.validate_python(fields)


def parse_progress_line(raw: bytes) -> ProgressLine | None:
    """One line read back from ``progress.jsonl``; ``None`` for a torn or unknown line (a killed trainer)."""
    try:
        return _PROGRESS_LINE.validate_json(raw)
    except ValidationError:
        return None
