"""What a fine-tune job leaves behind as it runs: events, checkpoints and metrics (``/v1/fine-tunes/{id}/…``)."""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
    field_validator,
)

from byom.together._shapes import Timestamp, _Lenient, _ListPage, _lower

__all__ = [
    "FinetuneCheckpoint",
    "FinetuneCheckpointList",
    "FinetuneEvent",
    "FinetuneEventList",
    "FinetuneMetrics",
]


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
