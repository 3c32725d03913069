"""How long a planned job takes: on the local engine, from this machine's measured throughput (a completed
job of the same model); on Together, what its docs publish, honestly bounded."""

from __future__ import annotations

import statistics

from pydantic import BaseModel, Field

from byom.backend import Backend
from byom.errors import TogetherAPIError

__all__ = ["Duration", "plan_duration"]

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


async def plan_duration(backend: Backend, model: str | None, tokens: int | None) -> Duration:
    """The expected time to train ``tokens`` (all epochs) of ``model`` on ``backend``."""
    if backend.costs_money:
        return Duration(seconds=None, basis=_TOGETHER)
    measured = await _measured(backend, model) if model else None
    if measured is None:
        return Duration(
            seconds=None,
            basis="Time: not measured on this machine yet (no completed job of this model); the first job's "
            "job_status shows its tokens per second, and the next plan uses it.",
        )
    tps, job_id = measured
    if tokens is None:
        return Duration(
            seconds=None,
            tokens_per_second=tps,
            basis=f"Time: this machine trains this model at about {tps:,.0f} tokens/s (job {job_id}), but the "
            "tokens are not counted here.",
        )
    seconds = tokens / tps
    return Duration(
        seconds=seconds,
        tokens_per_second=tps,
        basis=f"Time: about {_human(seconds)} for {tokens:,} tokens at {tps:,.0f} tokens/s, measured on this "
        f"machine by job {job_id} (the model's loading and saving come on top).",
    )


async def _measured(backend: Backend, model: str) -> tuple[float, str] | None:
    """The median tokens/s of the newest completed job of ``model`` on this engine, and its id."""
    try:
        jobs = await backend.client.list_finetunes()
        for job in jobs[:_RECENT_JOBS]:
            if job.status != "completed" or (job.from_hf_model or "") != model:
                continue
            rates = [
                v
                for _, v in (await backend.client.finetune_metrics(job.id)).series("train/tokens_per_second")
            ]
            rates = [r for r in rates if r > 0]
            if rates:
                return statistics.median(rates), job.id
    except TogetherAPIError:
        return None  # the time is then unknown; the plan still stands
    return None


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
