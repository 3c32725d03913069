"""How long a planned job takes: on the local engine, from this machine's measured throughput (a completed
job of the same model); on Together, what its docs publish, honestly bounded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from byom.errors import TogetherAPIError

if TYPE_CHECKING:
    from byom.backend import Backend
    from byom.together import FinetuneEvent, FinetuneResponse

__all__ = ["Duration", "TrainingRate", "plan_duration", "training_rate"]

# docs.together.ai/docs/fine-tuning/monitoring (ref together-api.md §7): no per-token throughput is published.
_TOGETHER = (
    "Time: Together publishes no throughput to compute it from. Its docs: the queue wait is typically under an hour, "
    "and a small LoRA job on an 8B model with under 1k examples takes about 10–30 minutes after it; job_status shows "
    "Together's own estimate (seconds remaining) once the job runs."
)
# How many recent completed jobs are searched for a measured throughput.
_RECENT_JOBS = 20


class Duration(BaseModel):
    seconds: float | None = Field(description="Expected training time; None where it cannot be worked out.")
    tokens_per_second: float | None = Field(None, description="The throughput it is worked out from.")
    basis: str


class TrainingRate(BaseModel):
    tokens_per_second: float = Field(description="The tokens trained over the seconds spent training.")
    seconds: float = Field(
        description="From the training_start event to training_complete (no load, no save)."
    )


def training_rate(job: FinetuneResponse, events: Sequence[FinetuneEvent]) -> TrainingRate | None:
    """How fast a completed job trained: its ``token_count`` (every epoch) over the time from its first
    ``training_start`` event to its last ``training_complete``; loading the model and saving it are not in it.
    None when the job or its events do not say (a running job, a backend that reports no token count)."""
    started = [e.created_at for e in events if e.type == "training_start" and e.created_at]
    ended = [e.created_at for e in events if e.type == "training_complete" and e.created_at]
    if not (job.token_count and started and ended):
        return None
    seconds = (max(ended) - min(started)).total_seconds()
    if seconds <= 0:
        return None
    return TrainingRate(tokens_per_second=job.token_count / seconds, seconds=seconds)


async def plan_duration(backend: Backend, model: str | None, tokens: int | None, *, lora: bool) -> Duration:
    """The expected time to train ``tokens`` (all epochs) of ``model`` with LoRA (``lora``) or every weight on
    ``backend``: from the newest completed job of the same model and method on this engine."""
    if backend.costs_money:
        return Duration(seconds=None, basis=_TOGETHER)
    method = "LoRA" if lora else "full fine-tuning"
    measured = await _measured(backend, model, lora) if model else None
    if measured is None:
        return Duration(
            seconds=None,
            basis=f"Time: not measured on this machine yet (no completed {method} job of this model); the first "
            "job's job_status shows the tokens per second it trained at, and the next plan uses it.",
        )
    tps, job_id = measured
    if tokens is None:
        return Duration(
            seconds=None,
            tokens_per_second=tps,
            basis=f"Time: this machine trains this model ({method}) at about {tps:,.0f} tokens/s (job {job_id}), but "
            "the tokens are not counted here.",
        )
    seconds = tokens / tps
    return Duration(
        seconds=seconds,
        tokens_per_second=tps,
        basis=f"Time: about {_human(seconds)} for {tokens:,} tokens at {tps:,.0f} tokens/s, measured on this "
        f"machine by {method} job {job_id} over its whole training (the model's loading and saving come on top).",
    )


async def _measured(backend: Backend, model: str, lora: bool) -> tuple[float, str] | None:
    """The training rate of the newest completed job of ``model`` and the same method on this engine, and its id."""
    try:
        jobs = await backend.client.list_finetunes()
        for job in jobs[:_RECENT_JOBS]:
            if job.status != "completed" or (job.from_hf_model or "") != model or job.is_lora is not lora:
                continue
            rate = training_rate(job, await backend.client.finetune_events(job.id))
            if rate is not None:
                return rate.tokens_per_second, job.id
    except TogetherAPIError:
        return None  # the time is then unknown; the plan still stands
    return None


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
