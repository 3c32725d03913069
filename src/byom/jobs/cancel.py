"""Cancelling a fine-tune: the plan the user confirms (what is kept, what was billed), then the cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from byom.backend import Backend
from byom.confirmed import ConfirmedPlan
from byom.errors import PreflightError
from byom.ledger import fingerprint

if TYPE_CHECKING:
    from byom.together import FinetuneResponse

__all__ = ["CancelArgs", "CancelPlan", "cancel", "plan_cancel"]


class CancelArgs(BaseModel):
    """``cancel_job``'s arguments (``confirm_token`` excluded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(min_length=1, max_length=200)


class CancelPlan(ConfirmedPlan):
    job_id: str
    status: str
    steps_completed: int
    total_steps: int | None
    kept: list[str]
    billed_usd: float | None
    costs_money: bool

    def describe(self) -> str:
        return (
            f"Cancel job {self.job_id} ({self.status}, step {self.steps_completed}/{self.total_steps or '?'})? "
            + (
                f"Completed checkpoints are kept: {', '.join(self.kept)}. "
                if self.kept
                else "No checkpoint has been saved yet. "
            )
            + (
                f"Billed so far: ${self.billed_usd:,.2f}."
                if self.costs_money and self.billed_usd is not None
                else ""
            )
        ).strip()


async def plan_cancel(backend: Backend, args: CancelArgs) -> CancelPlan:
    """The cancel to confirm; a job that already ended (or is being cancelled) is refused."""
    job = await backend.client.retrieve_finetune(args.job_id)
    if job.is_terminal or job.status == "cancel_requested":
        raise PreflightError(
            f"Job {job.id} is {job.status}: there is nothing to cancel. job_status shows its outcome."
        )
    checkpoints = await backend.client.finetune_checkpoints(job.id)
    return CancelPlan(
        backend_url=backend.base_url,
        fingerprint=fingerprint(backend.base_url, {"cancel": job.id}),
        job_id=job.id,
        status=job.status or "",
        steps_completed=job.steps_completed or 0,
        total_steps=job.total_steps,
        kept=[f"step {c.step} ({c.checkpoint_type or c.checkpoint})" for c in checkpoints],
        billed_usd=job.price_usd,
        costs_money=backend.costs_money,
    )


async def cancel(backend: Backend, plan: CancelPlan) -> FinetuneResponse:
    return await backend.client.cancel_finetune(plan.job_id)
