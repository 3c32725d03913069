"""Carrying out a confirmed launch plan: upload its files, hold the backend's estimate to the confirmed price,
and create the job at most once (the ledger claims the request before it is sent; a lost answer is looked for
among the backend's jobs before anything is created again). The plan itself is ``launch.py``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from byom.backend import Backend
from byom.confirmed import Progress, create_or_find, outcome_unknown
from byom.errors import PreflightError, PriceChanged, TogetherAPIError
from byom.jobs.files import FilePlan, upload, with_ids
from byom.jobs.launch import SAME_REQUEST_S, SMALLER, LaunchPlan
from byom.jobs.pricing import backend_estimate
from byom.ledger import Ledger
from byom.together import FinetuneResponse

if TYPE_CHECKING:
    from byom.together import FinetuneRequest

__all__ = ["LaunchOutcome", "launch"]

_SKEW_S = 300.0  # clock skew allowed between this machine and the backend when matching a lost create
PRICE_TOLERANCE = 0.10  # the estimate after upload may exceed the confirmed price by this much


class LaunchOutcome(BaseModel):
    job: FinetuneResponse
    training_file: FilePlan | None = Field(None, description="The training file as sent (uploaded by now).")
    validation_file: FilePlan | None = None
    reused: bool = Field(
        description="True: the job already existed (same request within 24 h, or a lost answer)."
    )
    note: str | None = None


async def launch(
    plan: LaunchPlan,
    *,
    backend: Backend,
    ledger: Ledger,
    force_new: bool = False,
    confirmed_price: bool = True,
    progress: Progress | None = None,
) -> LaunchOutcome:
    """Create the planned job, at most once: upload its local files, hold the backend's estimate to the price
    confirmed (``confirmed_price``: a person or a token confirmed the figure, not BYOM_AUTO_CONFIRM) and to the
    limits, then claim the request in the ledger before it is sent."""
    client = backend.client
    if plan.existing_job_id is not None:
        job = await client.retrieve_finetune(plan.existing_job_id)
        return LaunchOutcome(
            job=job,
            reused=True,
            note="The same request created this job in the last 24 h (force_new=true for another).",
        )
    training = await upload(plan.training_file, backend, ledger, progress, "training")
    validation = (
        await upload(plan.validation_file, backend, ledger, progress, "validation")
        if plan.validation_file is not None
        else None
    )
    request = with_ids(plan.sent, training, validation)
    usd = plan.price.usd
    if backend.costs_money and plan.price.source == "offline":
        usd = await _hold_to_confirmed(plan, backend, ledger, request, compare=confirmed_price)
    claim = ledger.claim(
        "finetune",
        plan.fingerprint,
        plan.backend_url,
        request.public(),
        usd or 0.0,
        force_new=force_new,
        limits=plan.limits if backend.costs_money else None,
    )
    if claim.kind == "created" and claim.previous is not None and claim.previous.resource_id:
        job = await client.retrieve_finetune(claim.previous.resource_id)
        return LaunchOutcome(
            job=job,
            reused=True,
            note="The same request created this job in the last 24 h.",
            training_file=training,
            validation_file=validation,
        )
    if claim.kind == "retry" and claim.previous is not None:
        earlier = await _find_or_hold(backend, request, ledger, claim.row_id, since=claim.previous.created_at)
        if earlier is not None:
            return LaunchOutcome(
                job=earlier,
                reused=True,
                note="An earlier create's answer was lost; this is its job.",
                training_file=training,
                validation_file=validation,
            )
    try:
        job, lost = await create_or_find(
            lambda: client.create_finetune(request),
            lambda: _find_or_hold(backend, request, ledger, claim.row_id, since=time.time() - _SKEW_S),
        )
    except TogetherAPIError as exc:
        if not outcome_unknown(exc):
            ledger.fail(claim.row_id)
            raise
        ledger.lost(claim.row_id)
        raise PreflightError(
            f"The create request was sent to {backend.label}, but its answer was lost or failed ({exc}), so the "
            "job may or may not exist, and none shows up yet. Call create_finetune again with the same arguments: it "
            "looks for that job first and creates one only if there is none (list_jobs shows the jobs)."
        ) from None
    if lost:  # found by _find_or_hold, which recorded it
        return LaunchOutcome(
            job=job,
            reused=True,
            note="The create's answer was lost; the job was found.",
            training_file=training,
            validation_file=validation,
        )
    ledger.finish(claim.row_id, job.id)
    return LaunchOutcome(job=job, reused=False, training_file=training, validation_file=validation)


async def _hold_to_confirmed(
    plan: LaunchPlan, backend: Backend, ledger: Ledger, request: FinetuneRequest, *, compare: bool
) -> float | None:
    """The backend's estimate once the files are up, held to the limits and (``compare``) to the price the
    user confirmed: more than 10% above it, nothing is created and the user is asked again."""
    estimate = await backend_estimate(backend, request, plan.model)
    ledger.check_limits(
        estimate.usd, plan.limits, what="this job", smaller=SMALLER, why_unknown=estimate.basis
    )
    confirmed = plan.price.usd
    if estimate.usd is None:
        return confirmed  # no limit applies (else check_limits refused): the figure confirmed stands
    if compare and confirmed is not None and estimate.usd > confirmed * (1 + PRICE_TOLERANCE):
        raise PriceChanged(
            f"After the upload, Together estimates this job at ${estimate.usd:,.2f}: more than 10% above the "
            f"${confirmed:,.2f} the user confirmed (from the packaged rate table). Nothing was created (the data is "
            "uploaded). Call create_finetune again with the same arguments and without confirm_token: the new plan "
            "shows Together's figure. Ask the user again before going ahead."
        )
    return estimate.usd


async def _find_or_hold(
    backend: Backend, request: FinetuneRequest, ledger: Ledger, row_id: int, *, since: float
) -> FinetuneResponse | None:
    """The job a lost create made (recorded on ``row_id``), or None; when the backend cannot be asked, the row
    stays lost and nothing is sent: creating blind is how a second job happens."""
    try:
        found = await _find_created(backend, request.public(), ledger, since=since)
    except TogetherAPIError as exc:
        ledger.lost(row_id)
        raise PreflightError(
            f"An earlier create of this request lost its answer, and {backend.label} cannot be asked for its jobs "
            f"now ({exc.status_code or 'no answer'}). Nothing new was sent. Call again in a minute."
        ) from exc
    if found is not None:
        ledger.finish(row_id, found.id)
    return found


async def _find_created(
    backend: Backend, req: dict[str, Any], ledger: Ledger, *, since: float
) -> FinetuneResponse | None:
    """The job a lost create made, if the backend has it: same files, base, custom model and suffix."""
    jobs = await backend.client.list_finetunes()
    # A job an earlier create made (the same request with force_new, say) matches too, but is not this one.
    known = ledger.resource_ids("finetune", within_s=SAME_REQUEST_S + _SKEW_S)
    for job in jobs:
        if job.id in known:
            continue
        created = job.created_at.timestamp() if job.created_at is not None else None
        if created is not None and created < since - _SKEW_S:
            continue
        # A checkpoint job's request names no model, but the job reports its parent's base: compare what was sent.
        if (
            job.training_file == req.get("training_file")
            and (not req.get("model") or job.model == req.get("model"))
            and (job.from_hf_model or None) == (req.get("from_hf_model") or None)
            and (job.from_checkpoint or None) == (req.get("from_checkpoint") or None)
            and (job.suffix or None) == (req.get("suffix") or None)
        ):
            return job
    return None
