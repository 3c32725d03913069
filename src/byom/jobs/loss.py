"""Is it learning? A job's loss history as numbers, its trend and a plain judgment.

Chance level: a model that has learned nothing spreads its probability evenly over the vocabulary, so its
cross-entropy is ln(vocab size) (6.05 for a 400-token vocabulary). DPO's loss is -log sigmoid(β·margin),
which is ln 2 ≈ 0.693 at the start (policy = reference, margin 0; Rafailov et al. 2023, eq. 7); below it the
model prefers the chosen answers. The reward metrics are TRL's names (``rewards/accuracies``: the share of
pairs whose chosen answer gets the higher implicit reward; ``rewards/margins``: chosen minus rejected), which
the local engine's trainer reports too.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from byom.together import FinetuneMetrics

__all__ = [
    "DPO_START",
    "MAX_POINTS",
    "LossPoint",
    "LossWatch",
    "downsample",
    "needs_vocab",
    "trend",
    "watch_loss",
]

MAX_POINTS = 40  # of each history in an answer: enough to see a curve, small enough to read
DPO_START = math.log(2)
_FLAT = 0.02  # a relative change below 2% is flat
_CHANCE = 0.05  # within 5% of ln(vocab), or above it, is chance level
# ln 20: a loss below it is below chance for any real vocabulary, so the model's config need not be read.
_NEVER_CHANCE = math.log(20)

Trend = Literal["falling", "flat", "rising"]
Judgment = Literal["falling", "flat", "at chance level", "rising"]


class LossPoint(BaseModel):
    step: float
    value: float


class LossWatch(BaseModel):
    """The loss of a job as a person watching it needs it."""

    train: list[LossPoint] = Field(
        default_factory=list,
        description=f"Training loss by step, at most {MAX_POINTS} points (evenly sampled).",
    )
    eval: list[LossPoint] = Field(
        default_factory=list, description="Validation loss by step, sampled the same way."
    )
    train_points: int = Field(0, description="How many training-loss points the backend reported in all.")
    trend: Trend | None = Field(None, description="Last points against the first ones; from 2 points on.")
    judgment: Judgment | None = None
    chance_loss: float | None = Field(
        None, description="The loss of a model that learned nothing: ln(vocab size), or ln 2 for DPO."
    )
    reward_accuracy: float | None = Field(
        None, description="DPO: share of pairs whose chosen answer wins (latest)."
    )
    reward_margin: float | None = Field(None, description="DPO: chosen minus rejected reward (latest).")
    explanation: str | None = None


def downsample(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[LossPoint]:
    """At most ``limit`` points, evenly spread, always keeping the first and the last."""
    finite = [(s, v) for s, v in points if math.isfinite(v)]
    if len(finite) > limit:
        last = len(finite) - 1
        picks = sorted({round(i * last / (limit - 1)) for i in range(limit)})
        finite = [finite[i] for i in picks]
    return [LossPoint(step=s, value=v) for s, v in finite]


def trend(values: list[float]) -> Trend | None:
    """The mean of the last third against the first third (the last against the first for 2-3 points)."""
    values = [v for v in values if math.isfinite(v)]
    if len(values) < 2:
        return None
    k = max(1, len(values) // 3)
    first, last = sum(values[:k]) / k, sum(values[-k:]) / k
    if abs(last - first) <= _FLAT * max(abs(first), 1e-9):
        return "flat"
    return "falling" if last < first else "rising"


def _latest(metrics: FinetuneMetrics, suffix: str) -> float | None:
    """The latest value of the first metric whose name ends with ``suffix`` (train/ before eval/)."""
    names = sorted(
        {k for p in metrics.metrics for k in p if k.endswith(suffix)}, key=lambda k: not k.startswith("train")
    )
    for name in names:
        series = metrics.series(name)
        if series:
            return series[-1][1]
    return None


def needs_vocab(metrics: FinetuneMetrics | None) -> bool:
    """Whether chance level could apply: a latest training loss high enough that the vocabulary size matters."""
    train = metrics.series("train/loss") if metrics is not None else []
    return bool(train) and train[-1][1] >= _NEVER_CHANCE * (1 - _CHANCE)


def watch_loss(metrics: FinetuneMetrics | None, *, dpo: bool, vocab_size: int | None) -> LossWatch:
    """History, trend and judgment of a job's loss; ``vocab_size`` (from the model's config) sets chance level."""
    if metrics is None:
        return LossWatch()
    train = metrics.series("train/loss")
    accuracy, margin = _latest(metrics, "rewards/accuracies"), _latest(metrics, "rewards/margins")
    dpo = dpo or accuracy is not None
    out = LossWatch(
        train=downsample(train),
        eval=downsample(metrics.series("eval/loss")),
        train_points=len(train),
        trend=trend([v for _, v in train]),
        chance_loss=DPO_START if dpo else (math.log(vocab_size) if vocab_size and vocab_size > 1 else None),
        reward_accuracy=accuracy,
        reward_margin=margin,
    )
    if not out.train:
        return out
    latest = out.train[-1].value
    out.judgment, out.explanation = _judge(latest, out.trend, out.chance_loss, dpo, vocab_size)
    tail = _levelled_off([v for _, v in train])
    if out.judgment == "falling" and tail:
        out.judgment = "flat"
        dpo_note = f" {out.explanation}" if dpo and out.explanation else ""
        why = _decayed(metrics.series("train/learning_rate"), tail)
        out.explanation = (
            f"it fell from {train[0][1]:.4g} and has levelled off over its last {tail} points"
            + (
                f", while the learning rate decayed to {why[1]:.2g} (from {why[0]:.2g}): the schedule slowed it, so "
                "more epochs (or a higher learning rate) may still lower it; a validation file shows whether that "
                "generalises."
                if why
                else ": more steps at this learning rate gain little."
            )
        )
        out.explanation += dpo_note
    return out


def _decayed(rates: list[tuple[float, float]], tail: int) -> tuple[float, float] | None:
    """(peak, latest) learning rate when the schedule brought it below a fifth of its peak over the last ``tail``
    points: the loss levelled off because the steps shrank, not because the model stopped learning."""
    values = [v for _, v in rates if math.isfinite(v)]
    if len(values) < tail:
        return None
    peak, latest = max(values), values[-1]
    return (peak, latest) if peak > 0 and latest < peak / 5 and values[-tail] > latest else None


def _levelled_off(values: list[float]) -> int:
    """How many of the latest points are flat after a fall (the last quarter, at least 6 points), else 0."""
    values = [v for v in values if math.isfinite(v)]
    n = max(6, len(values) // 4)
    if len(values) < 2 * n:
        return 0
    return n if trend(values[-n:]) == "flat" else 0


def _judge(
    latest: float, direction: Trend | None, chance: float | None, dpo: bool, vocab: int | None
) -> tuple[Judgment | None, str]:
    """The judgment and a sentence that explains it (the renderer puts the latest loss before it)."""
    if dpo:
        start = f"DPO starts at ln 2 ≈ {DPO_START:.3f} (no preference yet); below it the model prefers the chosen answers."
        if direction != "falling" and abs(latest - DPO_START) <= 0.01:
            return "at chance level", f"still at ln 2: no preference learned yet. {start}"
        return direction, start
    if chance is not None and latest >= chance * (1 - _CHANCE):
        moving = " It is falling, so more steps may take it below." if direction == "falling" else ""
        return "at chance level", (
            f"ln {vocab:,} ≈ {chance:.2f} (the vocabulary size) is the loss of a model that learned nothing: it "
            f"predicts no better than guessing.{moving} If it stays there, check the learning rate (too low, or so "
            "high it diverged) and that the trained tokens are the ones you mean (check_training_data's preview)."
        )
    words = {
        "falling": "it is learning.",
        "flat": "it has stopped improving: more steps at this learning rate gain little.",
        "rising": "it is getting worse: the learning rate may be too high; consider cancelling.",
        None: "one point so far: call again for a trend.",
    }
    return direction, words[direction]
