"""create_finetune, job_status, list_jobs, cancel_job: launch, watch and stop a fine-tune.

A job is a handle: ``create_finetune`` returns its id at once, ``job_status`` follows it with short waits
(hosts time a call out near 60 s), ``list_jobs`` means a model never has to remember or invent an id.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult, ImageContent
from pydantic import BaseModel, Field

from byom.confirmed import poll_until
from byom.jobs import loss_curve_png
from byom.jobs.cancel import CancelArgs, CancelPlan, cancel, plan_cancel
from byom.jobs.create import launch
from byom.jobs.launch import LaunchArgs, LaunchPlan, plan_launch
from byom.jobs.status import (
    JobLine,
    JobSummary,
    fetch_details,
    job_line,
    render_summary,
    summarize,
    vocab_of,
)
from byom.ledger import SpendingLimits
from byom.tools._common import (
    MAX_WAIT_S,
    AppState,
    connected_backend,
    domain_errors,
    progress_reporter,
    state,
    tool_result,
)
from byom.tools._confirm import Confirm, Confirmation, ConfirmTokenArg, Settled

if TYPE_CHECKING:
    from byom.together import FinetuneResponse

__all__ = ["cancel_job", "create_finetune", "job_status", "list_jobs"]

JobIdArg = Annotated[
    str,
    Field(
        description="The job id (ft-…) that create_finetune or list_jobs returned.",
        min_length=1,
        max_length=200,
    ),
]


async def _job(ctx: Context[AppState, Any], job_id: str) -> FinetuneResponse:
    backend = await connected_backend(ctx)
    with domain_errors():
        return await backend.client.retrieve_finetune(job_id)


# ---- create_finetune ---------------------------------------------------------------------------------


class CreateFinetuneResult(BaseModel):
    status: Literal["created", "existing", "confirmation_required", "declined", "dry_run"]
    job_id: str | None = Field(None, description="The job to follow with job_status.")
    job_status: str | None = None
    confirm_token: str | None = Field(None, description="Pass back only after the user agreed to this plan.")
    plan: LaunchPlan
    note: str
    next_step: str


async def _plan_create(ctx: Context[AppState, Any], args: LaunchArgs, limits: SpendingLimits) -> LaunchPlan:
    app = state(ctx)
    return await plan_launch(
        args,
        backend=await app.backend(),
        inspector=app.inspector,
        catalog=await app.catalog(),
        ledger=app.ledger,
        spend_limits=limits,
    )


_create = Confirmation("create_finetune", LaunchArgs, _plan_create, LaunchPlan)


def _render_plan(plan: LaunchPlan, settled: Settled) -> str:
    return f"{settled.note}\n\nPlan:\n{plan.summary}"


async def create_finetune(
    ctx: Context[AppState, Any],
    training_file: Annotated[
        str,
        Field(
            description="A local .jsonl path (uploaded only once the user confirms) or a file id.",
            min_length=1,
            max_length=4096,
        ),
    ],
    from_hf_model: Annotated[
        str | None,
        Field(description="Your Hugging Face model: 'org/name' or a local directory.", max_length=512),
    ] = None,
    model: Annotated[
        str | None,
        Field(description="The Together base (template). Default: recommend_base's pick.", max_length=256),
    ] = None,
    validation_file: Annotated[
        str | None, Field(description="A local .jsonl path or file id for evaluation.", max_length=4096)
    ] = None,
    training_type: Annotated[
        Literal["lora", "full"], Field(description="LoRA adapters (default) or full weights.")
    ] = "lora",
    method: Annotated[
        Literal["sft", "dpo"], Field(description="Supervised, or preference pairs (DPO).")
    ] = "sft",
    n_epochs: Annotated[int, Field(ge=1, le=100, description="Passes over the data.")] = 1,
    learning_rate: Annotated[
        float | None, Field(gt=0, le=1, description="Default LoRA/full: SFT 1e-3/1e-5, DPO 5e-6/5e-7.")
    ] = None,
    batch_size: Annotated[int | Literal["max"], Field(description="Or 'max': the base's largest.")] = "max",
    lora_r: Annotated[
        int | None, Field(ge=1, le=1024, description="LoRA rank. Default: scaled to the model.")
    ] = None,
    lora_alpha: Annotated[
        int | None, Field(ge=1, le=4096, description="LoRA alpha. Default: 2 × rank.")
    ] = None,
    lora_dropout: Annotated[float, Field(ge=0, lt=1, description="LoRA dropout.")] = 0.0,
    lora_trainable_modules: Annotated[
        str, Field(max_length=500, description="Comma-separated, or all-linear.")
    ] = "all-linear",
    max_seq_length: Annotated[
        int | None,
        Field(ge=1, le=1_048_576, description="Default: the base's; capped at the model's context."),
    ] = None,
    train_on_inputs: Annotated[
        bool | Literal["auto"] | None, Field(description="Loss on prompts too. Default auto.")
    ] = None,
    dpo_beta: Annotated[
        float | None, Field(gt=0, le=100, description="DPO's KL strength. Default 0.1.")
    ] = None,
    n_checkpoints: Annotated[int, Field(ge=1, le=100, description="Checkpoints to keep.")] = 1,
    n_evals: Annotated[int, Field(ge=0, le=100, description="Evaluations on validation_file.")] = 0,
    warmup_ratio: Annotated[float, Field(ge=0, le=1, description="Share of steps warming up.")] = 0.0,
    lr_scheduler: Annotated[
        Literal["cosine", "linear"], Field(description="Learning-rate schedule.")
    ] = "cosine",
    weight_decay: Annotated[float, Field(ge=0, le=10, description="AdamW weight decay.")] = 0.0,
    max_grad_norm: Annotated[float, Field(ge=0, le=1000, description="Gradient clipping; 0 off.")] = 1.0,
    suffix: Annotated[
        str | None,
        Field(max_length=40, pattern=r"^[A-Za-z0-9._-]*$", description="Added to the output name."),
    ] = None,
    hf_model_revision: Annotated[
        str | None, Field(max_length=256, description="Branch, tag or commit of from_hf_model.")
    ] = None,
    hf_output_repo_name: Annotated[
        str | None, Field(max_length=256, description="Push the result to this HF repo.")
    ] = None,
    from_checkpoint: Annotated[
        str | None, Field(description="Continue a job: 'ft-…' or 'ft-…:step'.", max_length=256)
    ] = None,
    wandb_project_name: Annotated[
        str | None, Field(max_length=128, description="Log to W&B (needs WANDB_API_KEY set).")
    ] = None,
    force_new: Annotated[bool, Field(description="Repeat a request already made in the last 24 h.")] = False,
    dry_run: Annotated[bool, Field(description="Plan only (price, steps, time); nothing created.")] = False,
    confirm_token: ConfirmTokenArg = None,
    *,
    plan: Annotated[LaunchPlan, Resolve(_create.plan)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(_create.answer)],
) -> Annotated[CallToolResult, CreateFinetuneResult]:
    """Launch a BYOM fine-tune of a Hugging Face model, after the user confirms the plan.

    Checks the model, the base (picked when omitted), every setting and the data, prices it and asks the user;
    only then uploads. Returns the job id; follow it with job_status. "What would it cost?": dry_run=true.
    """
    settled = _create.settle(ctx, plan, answer, confirm_token)
    if not settled.go:
        if settled.status == "dry_run":
            next_step = "Show the user the plan; to start it, call again without dry_run."
        elif settled.confirm_token:
            next_step = "Ask the user; nothing was created."
        else:
            next_step = "Nothing was created."
        result = CreateFinetuneResult(**settled.stopped, plan=plan, next_step=next_step)
        return tool_result(result, _render_plan(plan, settled))
    app = state(ctx)
    with domain_errors():
        outcome = await launch(
            plan,
            backend=await app.backend(),
            ledger=app.ledger,
            force_new=force_new,
            confirmed_price=settled.status == "confirmed",
            progress=progress_reporter(ctx),
        )
    job = outcome.job
    note = " ".join(n for n in (settled.note if settled.status != "not_needed" else None, outcome.note) if n)
    # The plan as carried out: its files as sent (uploaded by now), not as they were before the confirmation.
    sent = plan.model_copy(
        update={
            "training_file": outcome.training_file or plan.training_file,
            "validation_file": outcome.validation_file or plan.validation_file,
        }
    )
    result = CreateFinetuneResult(
        status="existing" if outcome.reused else "created",
        job_id=job.id,
        job_status=job.status,
        plan=sent,
        note=note,
        next_step=f"Follow it: job_status(job_id={job.id!r}, wait_seconds=30).",
    )
    head = (
        f"Started: job {job.id} ({job.status})."
        if not outcome.reused
        else f"Job {job.id} already exists ({job.status})."
    )
    files = ", ".join(
        f.file_id or f.given for f in (sent.training_file, sent.validation_file) if f is not None
    )
    return tool_result(
        result,
        f"{head} {note}\nNext: {result.next_step}\n\nWhat was started (data: {files}):\n{sent.details()}",
    )


_create.bind(create_finetune)


# ---- job_status --------------------------------------------------------------------------------------


async def job_status(
    ctx: Context[AppState, Any],
    job_id: JobIdArg,
    wait_seconds: Annotated[
        int, Field(ge=0, le=MAX_WAIT_S, description="Wait up to this long for a change (≤ 45).")
    ] = 0,
    events: Annotated[int, Field(ge=0, le=50, description="How many recent events to include.")] = 10,
    plot: Annotated[bool, Field(description="Add a PNG of the loss curve.")] = False,
) -> Annotated[CallToolResult, JobSummary]:
    """State, stage, progress, events and outputs of a fine-tune job; its loss history and whether it is learning
    (falling / flat / at chance / rising).

    With wait_seconds it returns early on any change. A failed job points to explain_error; a completed one
    to its next calls.
    """
    job = await _job(ctx, job_id)
    if wait_seconds and not job.is_terminal:
        job = await _wait_for_change(ctx, job, wait_seconds)
    backend = await connected_backend(ctx)
    with domain_errors():
        found, checkpoints, metrics = await fetch_details(backend.client, job.id)
    app = state(ctx)
    vocab = await anyio.to_thread.run_sync(vocab_of, app.inspector, job.from_hf_model, metrics)
    summary = summarize(
        job, found, checkpoints, metrics, n_events=events, vocab_size=vocab, local=backend.kind == "local"
    )
    extra = []
    if plot:
        train = metrics.series("train/loss")
        evals = metrics.series("eval/loss")
        png = await anyio.to_thread.run_sync(lambda: loss_curve_png(train, evals, title=f"{job.id} loss"))
        extra.append(ImageContent(type="image", data=base64.b64encode(png).decode(), mime_type="image/png"))
    return tool_result(summary, render_summary(summary), *extra)


async def _wait_for_change(
    ctx: Context[AppState, Any], job: FinetuneResponse, wait_seconds: int
) -> FinetuneResponse:
    """Poll until the status, step or epoch changes, or the time is up; progress notifications meanwhile."""
    backend = await connected_backend(ctx)
    seen = (job.status, job.steps_completed, job.epochs_completed)

    def report(now: FinetuneResponse, tick: int) -> tuple[float, float | None, str]:
        done = now.steps_completed or 0
        return (
            done + tick * 1e-3,
            float(now.total_steps) if now.total_steps else None,
            f"{now.status}: step {done}",
        )

    return await poll_until(
        lambda: _job(ctx, job.id),
        lambda now: (now.status, now.steps_completed, now.epochs_completed) != seen,
        wait_seconds=wait_seconds,
        progress=progress_reporter(ctx),
        report=report,
        interval=0.5 if backend.kind == "local" else 3.0,
    )


# ---- list_jobs ---------------------------------------------------------------------------------------


class JobList(BaseModel):
    backend: str
    jobs: list[JobLine]
    total: int = Field(description="Jobs matching the filter before the limit.")


async def list_jobs(
    ctx: Context[AppState, Any],
    limit: Annotated[int, Field(ge=1, le=100, description="How many jobs.")] = 10,
    status: Annotated[
        str | None,
        Field(description="Only jobs in this status (e.g. running, completed, error).", max_length=40),
    ] = None,
) -> Annotated[CallToolResult, JobList]:
    """Recent fine-tune jobs of the active backend, newest first, one line each (cost, lineage): use these ids,
    never guess."""
    backend = await connected_backend(ctx)
    with domain_errors():
        jobs = await backend.client.list_finetunes()
    if status:
        jobs = [j for j in jobs if (j.status or "") == status.strip().lower()]
    lines = [job_line(j) for j in jobs[:limit]]
    result = JobList(backend=backend.label, jobs=lines, total=len(jobs))
    text = [f"{len(lines)} of {len(jobs)} job(s) on {backend.label}:"] + [
        _list_line(j, backend.costs_money) for j in lines
    ]
    billed = [j.cost_usd for j in lines if j.cost_usd is not None]
    if backend.costs_money and billed:
        text.append(f"Billed for these {len(billed)} job(s): ${sum(billed):,.2f} in all.")
    if not lines:
        text.append("None yet: create_finetune starts one.")
    return tool_result(result, "\n".join(text))


def _list_line(job: JobLine, costs_money: bool) -> str:
    what = (
        f"continued from {job.continued_from}"
        if job.continued_from
        else f"{job.from_hf_model or '-'} on {job.model or '-'}"
    )
    cost = ", free (trained on this machine)"
    if costs_money:
        cost = f", ${job.cost_usd:,.2f}" if job.cost_usd is not None else ", cost not reported yet"
    return f"- {job.job_id} {job.status} {job.created_at or '-'} {what}{cost}"


# ---- cancel_job --------------------------------------------------------------------------------------


class CancelResult(BaseModel):
    status: Literal["cancel_requested", "cancelled", "confirmation_required", "declined"]
    job_id: str
    job_status: str | None = None
    confirm_token: str | None = None
    kept: list[str] = Field(default_factory=list, description="Checkpoints that stay usable.")
    billed_usd: float | None = None
    note: str


async def _plan_cancel(ctx: Context[AppState, Any], args: CancelArgs, _: SpendingLimits) -> CancelPlan:
    return await plan_cancel(await state(ctx).backend(), args)


_cancel = Confirmation("cancel_job", CancelArgs, _plan_cancel, CancelPlan)


async def cancel_job(
    ctx: Context[AppState, Any],
    job_id: JobIdArg,
    confirm_token: ConfirmTokenArg = None,
    *,
    plan: Annotated[CancelPlan, Resolve(_cancel.plan)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(_cancel.answer)],
) -> Annotated[CallToolResult, CancelResult]:
    """Cancel a running or queued fine-tune after the user confirms; completed checkpoints are kept."""
    settled = _cancel.settle(ctx, plan, answer, confirm_token)
    if not settled.go:
        result = CancelResult(
            **settled.stopped,
            job_id=plan.job_id,
        )
        return tool_result(result, f"{settled.note}\n\n{plan.summary}")
    backend = await connected_backend(ctx)
    with domain_errors():
        job = await cancel(backend, plan)
    result = CancelResult(
        status="cancelled" if job.status == "cancelled" else "cancel_requested",
        job_id=job.id,
        job_status=job.status,
        kept=plan.kept,
        billed_usd=job.price_usd,
        note=settled.note,
    )
    kept = f" Kept: {', '.join(plan.kept)}." if plan.kept else " No checkpoint was saved."
    if backend.costs_money:
        kept += (
            f" Billed: ${job.price_usd:,.2f}." if job.price_usd is not None else " Billed: not reported yet."
        )
    return tool_result(
        result, f"Job {job.id}: {job.status}.{kept} {settled.note}\nNext: job_status(job_id={job.id!r})."
    )


_cancel.bind(cancel_job)
