"""What a plan's data becomes: examples → sequences (packed or not) → optimizer steps per epoch and in all,
and the warnings, each with its fix, when that is too little to train."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from byom.data import optimizer_steps
from byom.jobs.tokens import PlanTokens

if TYPE_CHECKING:
    from byom.together import FinetuneModelLimits, FinetuneRequest

__all__ = ["MIN_STEPS", "Schedule", "batch_of", "plan_schedule", "schedule_warnings"]

# Fewer optimizer steps than this barely move the weights: the loss curve has nothing to show.
MIN_STEPS = 10
# Fewer examples than this is a smoke test, not a fine-tune (Together's docs suggest 100s to 1,000s).
TINY_DATA = 100


class Schedule(BaseModel):
    examples: int = Field(description="Rows training keeps (a row with nothing to learn is dropped).")
    sequences: int = Field(description="What one epoch feeds the model: packed blocks, or the examples.")
    packing: bool
    max_seq_length: int
    batch_size: int
    gradient_accumulation_steps: int
    n_epochs: int
    steps_per_epoch: int
    total_steps: int

    def render(self) -> str:
        if self.packing:
            how = (
                f"packed into {self.sequences:,} sequence(s) of ≤ {self.max_seq_length:,} tokens (packing joins short "
                "examples: fewer, fuller steps)"
            )
        else:
            how = f"{self.sequences:,} sequence(s), one an example"
        accumulation = (
            f" × {self.gradient_accumulation_steps} accumulated"
            if self.gradient_accumulation_steps > 1
            else ""
        )
        return (
            f"Steps: {self.examples:,} example(s) {how} → {self.steps_per_epoch:,} optimizer step(s) per epoch at batch "
            f"{self.batch_size}{accumulation} → {self.total_steps:,} in all ({self.n_epochs} epoch(s))."
        )


def batch_of(req: FinetuneRequest, limits: FinetuneModelLimits) -> tuple[int | None, int | None]:
    """(the batch size the job trains at, the base's smallest): "max" is the base's largest for the method and
    training type; None where the limits do not say."""
    kind = limits.lora_training if req.training_type is None or req.training_type.type == "Lora" else None
    bounds = kind or limits.full_training
    dpo = req.training_method.method == "dpo"
    largest = None
    if bounds is not None:
        largest = (bounds.max_batch_size_dpo if dpo else None) or bounds.max_batch_size
    smallest = bounds.min_batch_size if bounds is not None else None
    if req.batch_size in (None, "max"):
        return largest, smallest
    return int(req.batch_size), smallest


def plan_schedule(
    tokens: PlanTokens, req: FinetuneRequest, batch_size: int, gradient_accumulation_steps: int
) -> Schedule:
    """The schedule of ``req`` over the counted data (a preference pair is one sequence: never packed)."""
    dpo = req.training_method.method == "dpo"
    packing = req.packing and not dpo
    sequences = tokens.packed_sequences if packing else tokens.examples
    per_epoch, total = optimizer_steps(
        sequences,
        batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        n_epochs=req.n_epochs,
    )
    return Schedule(
        examples=tokens.examples,
        sequences=sequences,
        packing=packing,
        max_seq_length=tokens.max_seq_length,
        batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        n_epochs=req.n_epochs,
        steps_per_epoch=per_epoch,
        total_steps=total,
    )


def schedule_warnings(schedule: Schedule, smallest_batch: int | None) -> list[str]:
    """Too few steps or too little data, each with the fix that helps."""
    warnings = []
    if schedule.total_steps < MIN_STEPS:
        low = max(smallest_batch or 1, 1)
        fits = [b for b in range(schedule.batch_size - 1, low - 1, -1) if _total(schedule, b) >= MIN_STEPS]
        fix = (
            f"batch_size={fits[0]} gives {_total(schedule, fits[0])} steps"
            if fits
            else f"even batch_size={low} gives {_total(schedule, low)}: more epochs (n_epochs) or more data"
        )
        warnings.append(
            f"Only {schedule.total_steps} optimizer step(s) in all: too few to learn anything. Fix: {fix}."
        )
    if schedule.examples < TINY_DATA:
        warnings.append(
            f"Only {schedule.examples} example(s): a smoke test, not a fine-tune. Fix: a few hundred or more "
            "examples of the task."
        )
    return warnings


def _total(schedule: Schedule, batch_size: int) -> int:
    return optimizer_steps(
        schedule.sequences,
        batch_size=batch_size,
        gradient_accumulation_steps=schedule.gradient_accumulation_steps,
        n_epochs=schedule.n_epochs,
    )[1]
