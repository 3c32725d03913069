"""Evaluations (``/v1/evaluation``: Together's Evaluations API, and the local engine's, which adds ``loss``).

Shapes follow SDK 3.1.1's ``together/types/evaluation_job.py`` and ``eval_status_response.py``: a job is
``workflow_id``, ``type``, ``status`` and ``results``, whose fields depend on the type. ``compare`` results are
``A_wins``/``B_wins``/``Ties`` plus the generation and judge failures (which add up to ``num_samples``), ``score``
results an ``aggregated_scores`` block; the engine's ``loss`` results are ``task`` and ``forgetting`` pairs
(``byom.engine.evals.loss``'s docstring).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from byom.together._shapes import Timestamp, _Lenient, _ListPage

__all__ = [
    "EVALUATION_TERMINAL",
    "AggregatedScores",
    "EvaluationCreated",
    "EvaluationJob",
    "EvaluationModelList",
    "EvaluationResults",
    "LossDifference",
    "LossPair",
    "LossSummary",
    "ModelPricing",
    "ServerlessModel",
    "ServerlessModelPage",
]

EVALUATION_TERMINAL = frozenset({"completed", "error", "user_error"})


class AggregatedScores(_Lenient):
    mean_score: float | None = None
    std_score: float | None = None
    pass_percentage: float | None = None


class LossSummary(_Lenient):
    """One model's held-out loss (``loss`` evaluations, the engine's)."""

    loss: float
    perplexity: float | None = None
    std_error: float | None = None
    n_examples: int = 0
    n_dropped: int = 0
    tokens: int = 0
    vocab_size: int | None = None


class LossDifference(_Lenient):
    difference: float
    std_error: float | None = None
    n_examples: int = 0


class LossPair(_Lenient):
    model_a: LossSummary
    model_b: LossSummary
    difference: LossDifference


class EvaluationResults(_Lenient):
    """Every type's result fields in one lenient shape (the type is the job's ``type``)."""

    a_wins: int | None = Field(default=None, alias="A_wins")
    b_wins: int | None = Field(default=None, alias="B_wins")
    ties: int | None = Field(default=None, alias="Ties")
    num_samples: int | None = None
    generation_fail_count: float | None = None
    judge_fail_count: float | None = None
    aggregated_scores: AggregatedScores | None = None
    failed_samples: float | None = None
    invalid_score_count: float | None = None
    result_file_id: str | None = None
    error: str | None = None
    task: LossPair | None = None
    forgetting: LossPair | None = None


class EvaluationJob(_Lenient):
    """``GET /v1/evaluation/{id}`` (and ``/status``, which carries only ``status`` and ``results``)."""

    workflow_id: str | None = None
    type: str | None = None
    status: str | None = None
    parameters: dict[str, Any] | None = None
    results: EvaluationResults | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None

    @property
    def done(self) -> bool:
        return (self.status or "") in EVALUATION_TERMINAL


class EvaluationCreated(_Lenient):
    """``POST /v1/evaluation``."""

    workflow_id: str
    status: str | None = None


class EvaluationModelList(_Lenient):
    """``GET /v1/evaluation/model-list``: the models an evaluation may use (as judge or as a model)."""

    model_list: list[str] = Field(default_factory=list)


class ModelPricing(_Lenient):
    """USD per million tokens."""

    input: float | None = None
    output: float | None = None


class ServerlessModel(_Lenient):
    """One entry of ``GET /v1/models`` (Together's serverless models), read for its ``pricing`` only: an
    evaluation's judge and serverless models are billed per token at these rates."""

    id: str
    pricing: ModelPricing | None = None


class ServerlessModelPage(_ListPage):
    """``GET /v1/models``: a bare list (or a ``data`` page)."""

    data: list[ServerlessModel] = Field(default_factory=list)
