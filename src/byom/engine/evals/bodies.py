"""The bodies of ``/v1/evaluation``: each type's parameters as Together declares them, and the job as it answers.

Parameters follow ``EvaluationClassifyParameters``, ``EvaluationScoreParameters`` and
``EvaluationCompareParameters`` (together-openapi.yaml; SDK 3.1.1 ``eval_create_params``), so the SDK's
``client.evals.create`` sends exactly these. The local engine serves every model itself: ``model_source``
"serverless" and "dedicated" both name a model it serves; "external" (another provider's API) is refused.
Unknown keys are refused too, so a misspelt option is a 400 that names it rather than a setting silently dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from byom.engine.http import omitted

__all__ = [
    "ClassifyParameters",
    "CompareParameters",
    "EvaluationCreated",
    "EvaluationJob",
    "EvaluationStatus",
    "EvaluationStatusBody",
    "Judge",
    "ModelOrColumn",
    "ModelRequest",
    "ModelSource",
    "Parameters",
    "ScoreParameters",
    "StatusUpdate",
]

ModelSource = Literal["serverless", "dedicated", "external"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _served_here(source: str) -> str:
    if source == "external":
        raise ValueError(
            "the local engine calls no external API; name a model it serves (model_source 'serverless' or "
            "'dedicated'), listed by GET /v1/evaluation/model-list"
        )
    return source


class Judge(_Strict):
    """``EvaluationJudgeModelConfig``: the model that judges, and its system prompt."""

    model: str = Field(min_length=1, max_length=1000)
    model_source: ModelSource
    system_template: str = Field(max_length=100_000)
    external_api_token: str | None = Field(default=None, repr=False)
    external_base_url: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    num_workers: int | None = Field(default=None, ge=1)  # accepted; the engine judges one sample at a time
    temperature: float | None = Field(default=None, ge=0, le=2)

    _source = field_validator("model_source")(_served_here)


class ModelRequest(_Strict):
    """``EvaluationModelRequest``: a served model that answers each row's rendered ``input_template``."""

    model: str = Field(min_length=1, max_length=1000)
    model_source: ModelSource
    max_tokens: int = Field(ge=1)
    temperature: float = Field(ge=0, le=2)
    system_template: str = Field(max_length=100_000)
    input_template: str = Field(min_length=1, max_length=100_000)
    external_api_token: str | None = Field(default=None, repr=False)
    external_base_url: str | None = None
    num_workers: int | None = Field(default=None, ge=1)

    _source = field_validator("model_source")(_served_here)


# A model that generates, or the name of a dataset column holding pre-generated answers (as on Together).
ModelOrColumn = ModelRequest | Annotated[str, Field(min_length=1, max_length=200)]


class Parameters(_Strict):
    """What every type's parameters have: the input file (a file id); the base of a new type's parameters."""

    input_data_file_path: str = Field(min_length=1, max_length=200)

    def served_models(self) -> list[str]:
        """The served models this evaluation generates with (checked before its first sample)."""
        return []


class _Judged(Parameters):
    judge: Judge

    def models(self) -> list[ModelOrColumn]:
        """The answers the judge sees (a model that generates, or a column), in order."""
        return []

    def served_models(self) -> list[str]:
        generating = [m.model for m in self.models() if isinstance(m, ModelRequest)]
        return [*generating, self.judge.model]


class CompareParameters(_Judged):
    """``EvaluationCompareParameters``: which of two answers the judge prefers."""

    model_a: ModelOrColumn
    model_b: ModelOrColumn
    disable_position_bias_correction: bool = False

    def models(self) -> list[ModelOrColumn]:
        return [self.model_a, self.model_b]


class ScoreParameters(_Judged):
    """``EvaluationScoreParameters``: a score from the judge between ``min_score`` and ``max_score``."""

    min_score: float
    max_score: float
    pass_threshold: float
    model_to_evaluate: ModelOrColumn | None = None

    @model_validator(mode="after")
    def _range(self) -> ScoreParameters:
        if self.min_score >= self.max_score:
            raise ValueError(f"min_score ({self.min_score}) must be below max_score ({self.max_score})")
        if not self.min_score <= self.pass_threshold <= self.max_score:
            raise ValueError(
                f"pass_threshold ({self.pass_threshold}) must lie between min_score and max_score"
            )
        return self

    def models(self) -> list[ModelOrColumn]:
        return [self.model_to_evaluate] if self.model_to_evaluate is not None else []


class ClassifyParameters(_Judged):
    """``EvaluationClassifyParameters``: one of ``labels`` from the judge; ``pass_labels`` count as passing."""

    labels: list[str] = Field(min_length=2, max_length=100)
    pass_labels: list[str] = Field(min_length=1, max_length=100)
    model_to_evaluate: ModelOrColumn | None = None

    @model_validator(mode="after")
    def _labels(self) -> ClassifyParameters:
        folded = [label.strip().casefold() for label in self.labels]
        if any(not label for label in folded) or len(set(folded)) != len(folded):
            raise ValueError("labels must be distinct, non-empty strings (compared without case)")
        unknown = [p for p in self.pass_labels if p.strip().casefold() not in folded]
        if unknown:
            raise ValueError(f"pass_labels {unknown} are not among labels {self.labels}")
        return self

    def models(self) -> list[ModelOrColumn]:
        return [self.model_to_evaluate] if self.model_to_evaluate is not None else []


# --- answers ----------------------------------------------------------------------------------------------

EvaluationStatus = Literal["pending", "queued", "running", "completed", "error", "user_error"]


class StatusUpdate(BaseModel):
    """``EvaluationJobStatusUpdate``."""

    status: str
    message: str
    timestamp: str


class EvaluationJob(BaseModel):
    """``EvaluationJob``: ``results`` once completed (the type's counts), ``{"error": …}`` once it failed."""

    workflow_id: str
    type: str
    status: EvaluationStatus
    parameters: dict[str, Any]
    created_at: str
    updated_at: str
    status_updates: list[StatusUpdate]
    results: dict[str, Any] | None = None


class EvaluationCreated(BaseModel):
    """``EvaluationResponse``: what ``POST /v1/evaluation`` answers."""

    workflow_id: str
    status: Literal["pending"] = "pending"


class EvaluationStatusBody(BaseModel):
    """``GET /v1/evaluation/{id}/status``."""

    status: EvaluationStatus
    results: dict[str, Any] | None = omitted()
