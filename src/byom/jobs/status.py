"""A job as the model should see it: state, the stage in the BYOM docs' words, progress, loss, events.

Built from the backend's answers (job, events, checkpoints, metrics) by pure functions, so the tools
only fetch and render. Event messages and error text come from the training run: untrusted, so they are
truncated and rendered fenced, never as instructions.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import BaseModel, Field

from byom.errors import ByomError
from byom.jobs.duration import TrainingRate, training_rate
from byom.jobs.iterate import continue_call
from byom.jobs.loss import LossWatch, needs_vocab, watch_loss
from byom.triage import EVENT_STAGES
from byom.untrusted import EVENT_CHARS, FAILURE_CHARS, fence, quote

if TYPE_CHECKING:
    from byom.hub import HubInspector
    from byom.together import (
        FinetuneCheckpoint,
        FinetuneEvent,
        FinetuneMetrics,
        FinetuneResponse,
        TogetherClient,
    )

__all__ = [
    "CheckpointLine",
    "EventLine",
    "JobLine",
    "JobSummary",
    "fetch_details",
    "job_line",
    "render_summary",
    "stage_of",
    "summarize",
    "vocab_of",
]

Stage = Literal[
    "queued", "data download", "initialization", "training", "saving", "upload", "done", "stopped"
]

# Where the job is, by its latest event that names a stage: triage's one table, in job_status's words.
_SHOWN: dict[str, Stage] = {
    "create": "queued",
    "download": "data download",
    "initialization": "initialization",
    "training": "training",
    "saving": "saving",
    "upload": "upload",
}


def _event_stage(event_type: str | None) -> Stage | None:
    if event_type == "job_complete":
        return "done"
    return _SHOWN.get(EVENT_STAGES.get(event_type or "", ""))


class EventLine(BaseModel):
    at: str | None
    type: str | None
    level: str
    message: str = Field(description="Untrusted text from the training run, truncated.")


class CheckpointLine(BaseModel):
    step: int | None
    kind: str | None
    registry_name: str | None = None


class JobSummary(BaseModel):
    """``job_status``'s answer."""

    job_id: str
    status: str
    ended: bool = Field(
        False, description="Completed, failed or cancelled: the job will not change any more."
    )
    stage: Stage = Field(description="Where the job is, in the BYOM docs' stage names.")
    model: str | None = None
    from_hf_model: str | None = None
    validation_file: str | None = Field(
        None, description="The held-out rows evaluate_model scores by default."
    )
    created_at: str | None = None
    steps_completed: int | None = None
    total_steps: int | None = None
    epochs_completed: float | None = None
    n_epochs: int | None = None
    percent: float | None = None
    eta_seconds: float | None = Field(
        None, description="Seconds to the next state, when the backend can tell."
    )
    queue_position: int | None = None
    training_rate: TrainingRate | None = Field(
        None,
        description="How fast it trained, once completed (what the next plan of this model and method here uses).",
    )
    latest_loss: float | None = None
    loss_trend: Literal["falling", "flat", "rising"] | None = None
    latest_eval_loss: float | None = None
    loss: LossWatch = Field(
        default_factory=LossWatch,
        description="Loss history as numbers, its trend and a judgment: is it learning?",
    )
    latest_event: str | None = Field(
        None, description="The type of the latest event: what the stage is read from."
    )
    events: list[EventLine] = Field(default_factory=list)
    checkpoints: list[CheckpointLine] = Field(default_factory=list)
    output_name: str | None = Field(
        None, description="Legacy output name (downloads, from_checkpoint); not for inference."
    )
    model_object_name: str | None = Field(None, description="Registry model of the final (merged) weights.")
    adapter_object_name: str | None = None
    cost_usd: float | None = None
    failure: str | None = Field(None, description="Why it failed, untrusted text, truncated.")
    diagnosis: str | None = Field(
        None, description="The failure's category and likely cause (explain_error has more)."
    )
    continue_with: str | None = Field(
        None, description="The create_finetune call that trains on from this job's output (once completed)."
    )
    next_step: str


class JobLine(BaseModel):
    job_id: str
    status: str
    created_at: str | None
    from_hf_model: str | None
    model: str | None
    suffix: str | None = None
    output_name: str | None = None
    cost_usd: float | None = Field(
        None, description="What the backend bills for it so far (None: not reported)."
    )
    continued_from: str | None = Field(None, description="The job (or job:step) this one continued.")


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts is not None else None


def stage_of(job: FinetuneResponse, events: list[FinetuneEvent]) -> Stage:
    """The stage of the latest event that names one, so the stage always agrees with the events shown; the
    status decides only before any such event, and once the job is done or waiting in the queue."""
    status = job.status or ""
    if status == "completed":
        return "done"
    if status in ("pending", "queued"):
        return "queued"
    for event in sorted(events, key=lambda e: e.created_at or datetime.min.replace(tzinfo=UTC), reverse=True):
        stage = _event_stage(event.type)
        if stage is not None:
            return stage
    if status == "compressing":
        return "saving"
    if status == "uploading":
        return "upload"
    return "initialization" if status == "running" else "queued"


def summarize(
    job: FinetuneResponse,
    events: list[FinetuneEvent],
    checkpoints: list[FinetuneCheckpoint],
    metrics: FinetuneMetrics | None,
    *,
    n_events: int = 10,
    vocab_size: int | None = None,
    local: bool = False,
) -> JobSummary:
    """The job as ``job_status`` shows it; ``vocab_size`` (the model's config) sets the loss's chance level;
    ``local``: the backend is the local engine (how its output continues training)."""
    status = job.status or "unknown"
    dpo = job.training_method is not None and job.training_method.method == "dpo"
    loss = watch_loss(metrics, dpo=dpo, vocab_size=vocab_size)
    percent = None
    if job.total_steps:
        percent = round(100.0 * (job.steps_completed or 0) / job.total_steps, 1)
    elif job.n_epochs and job.epochs_completed is not None:
        percent = round(100.0 * job.epochs_completed / job.n_epochs, 1)
    if status == "completed":
        percent = 100.0
    ordered = sorted(events, key=lambda e: e.created_at or datetime.min.replace(tzinfo=UTC))
    shown = ordered[-n_events:] if n_events > 0 else []
    failure = diagnosis = None
    if status in ("error", "user_error", "cancelled"):
        from byom.triage import (
            explain_job,  # the pattern catalogue loads on the first failed job, not at start
        )

        found = explain_job(job, ordered)
        if found.category != "unknown" or status != "cancelled":
            diagnosis = f"{found.category}: {found.cause}"
    if status in ("error", "user_error"):
        errors = [e for e in ordered if e.severity == "error" and e.message]
        failure = quote(
            (job.error.message if job.error else None)
            or (errors[-1].message if errors else None)
            or "no reason given",
            FAILURE_CHARS,
        )
    summary = JobSummary(
        job_id=job.id,
        status=status,
        ended=job.is_terminal,
        stage=stage_of(job, events),
        model=job.model,
        from_hf_model=job.from_hf_model,
        validation_file=job.validation_file,
        created_at=_iso(job.created_at),
        steps_completed=job.steps_completed,
        total_steps=job.total_steps,
        epochs_completed=job.epochs_completed,
        n_epochs=job.n_epochs,
        percent=percent,
        eta_seconds=job.progress.seconds_remaining
        if job.progress and job.progress.estimate_available
        else None,
        queue_position=job.queue_depth,
        training_rate=training_rate(job, ordered) if status == "completed" else None,
        latest_loss=loss.train[-1].value if loss.train else None,
        loss_trend=loss.trend,
        latest_eval_loss=loss.eval[-1].value if loss.eval else None,
        loss=loss,
        latest_event=next((e.type for e in reversed(ordered) if _event_stage(e.type)), None),
        events=[
            EventLine(
                at=_iso(e.created_at),
                type=e.type,
                level=e.severity,
                message=quote(e.message or "", EVENT_CHARS),
            )
            for e in shown
        ],
        checkpoints=[
            CheckpointLine(step=c.step, kind=c.checkpoint_type or c.checkpoint, registry_name=c.object_name)
            for c in checkpoints
        ],
        output_name=job.output_model,
        model_object_name=job.model_object_name,
        adapter_object_name=job.adapter_object_name,
        cost_usd=job.price_usd,
        failure=failure,
        diagnosis=diagnosis,
        continue_with=continue_call(job, ordered, local=local),
        next_step="",
    )
    summary.next_step = _next_step(summary)
    return summary


def _next_step(s: JobSummary) -> str:
    from byom.together import TERMINAL_STATUSES

    if s.status not in TERMINAL_STATUSES:
        return f"Not finished (stage: {s.stage}): call job_status(job_id={s.job_id!r}, wait_seconds=30) to follow it."
    learned_nothing = s.loss.judgment in ("at chance level", "rising") or (
        s.loss.judgment == "flat" and s.loss.trend == "flat"
    )
    if s.status == "completed" and learned_nothing:
        return (
            f"Done, but the loss is {s.loss.judgment}: the model did not learn, and deploying it would serve one no "
            "better than before. Change the settings (more epochs or steps, a higher learning rate; full "
            "fine-tuning for a model that starts at chance level) and call create_finetune again; more epochs can "
            f"also start from this output: {s.continue_with}."
        )
    if s.status == "completed":
        more = f"; or train on from it: {s.continue_with}" if s.continue_with else ""
        evaluate = (
            f"evaluate_model(model={s.job_id!r})"
            if s.validation_file
            else f"evaluate_model(model={s.job_id!r}, data=<a .jsonl of rows it did not train on>) (it had no "
            "validation file; its own training rows would only show memorisation)"
        )
        return (
            f"Done: see whether it beats its base with {evaluate}, then deploy it with "
            f"deploy_endpoint(job_id={s.job_id!r}){more}."
        )
    if s.status in ("error", "user_error"):
        return f"It failed: call explain_error(job_id={s.job_id!r}) for the cause and a corrected create_finetune call."
    if s.status == "cancelled":
        return "It was cancelled; completed checkpoints are kept. create_finetune starts a new job."
    return "Call job_status again, or list_jobs to see all jobs."


def render_summary(s: JobSummary) -> str:
    """The text the model reads: the id first, one line per fact, events fenced as untrusted."""
    where = (
        f"stopped during {s.stage}"
        if s.status in ("error", "user_error", "cancelled")
        else f"stage: {s.stage}"
    )
    if s.latest_event:
        where += f", latest event {s.latest_event}"
    lines = [f"Job {s.job_id}: {s.status} ({where})"]
    if s.from_hf_model or s.model:
        lines.append(f"Model: {s.from_hf_model or '-'} on base {s.model or '-'}")
    progress = []
    if s.total_steps:
        progress.append(f"step {s.steps_completed or 0}/{s.total_steps}")
    if s.epochs_completed is not None and s.n_epochs:
        progress.append(f"epoch {s.epochs_completed:g}/{s.n_epochs}")
    if s.percent is not None:
        progress.append(f"{s.percent:g}%")
    if s.eta_seconds:
        minutes = round(s.eta_seconds / 60)
        progress.append(
            f"about {minutes} min to the next state" if minutes >= 1 else "under a minute to the next state"
        )
    if s.queue_position:
        progress.append(f"queue position {s.queue_position}")
    if progress:
        lines.append("Progress: " + ", ".join(progress))
    if s.training_rate:
        rate = s.training_rate
        lines.append(
            f"Speed: {rate.tokens_per_second:,.0f} tokens/s over {rate.seconds:,.1f} s of training (loading and "
            "saving not included)"
        )
    lines.extend(_render_loss(s.loss))
    if s.checkpoints:
        lines.append("Checkpoints: " + ", ".join(f"step {c.step} ({c.kind})" for c in s.checkpoints[-5:]))
    if s.model_object_name or s.adapter_object_name:
        lines.append("Registry: " + ", ".join(n for n in (s.model_object_name, s.adapter_object_name) if n))
    if s.output_name:
        lines.append(f"Output name (downloads, from_checkpoint): {s.output_name}")
    if s.cost_usd is not None:
        lines.append(f"Cost so far: ${s.cost_usd:,.2f}")
    if s.diagnosis:
        lines.append(f"Diagnosis: {s.diagnosis}")
    if s.failure:
        lines.append("Failure (untrusted text from the run):\n" + fence(s.failure, "run"))
    if s.events:
        events = "\n".join(f"{e.at or '-'} {e.type or '-'} [{e.level}] {e.message}" for e in s.events)
        lines.append("Recent events (untrusted text from the run):\n" + fence(events, "run"))
    lines.append(f"Next: {s.next_step}")
    return "\n".join(lines)


def _render_loss(w: LossWatch) -> list[str]:
    if not w.train:
        return []
    lines = [f"Loss {w.train[-1].value:.4g} ({w.judgment or 'one point'}): {w.explanation}"]
    shown = ", ".join(f"{p.step:g}: {p.value:.4g}" for p in w.train)
    sampled = f" ({len(w.train)} of {w.train_points} points)" if w.train_points > len(w.train) else ""
    lines.append(f"Loss history, step: loss{sampled}: {shown}")
    if w.eval:
        lines.append("Eval loss history: " + ", ".join(f"{p.step:g}: {p.value:.4g}" for p in w.eval))
    if w.reward_accuracy is not None or w.reward_margin is not None:
        parts = []
        if w.reward_accuracy is not None:
            parts.append(f"reward accuracy {w.reward_accuracy:.0%} (50% = no preference)")
        if w.reward_margin is not None:
            parts.append(f"reward margin {w.reward_margin:.4g} (0 at the start)")
        lines.append("DPO: " + ", ".join(parts))
    return lines


async def fetch_details(
    client: TogetherClient, job_id: str
) -> tuple[list[FinetuneEvent], list[FinetuneCheckpoint], FinetuneMetrics]:
    """A job's events, checkpoints and metrics, fetched concurrently; a failure is raised as itself (not as an
    exception group, which no caller would recognise)."""
    got: dict[str, Any] = {}
    failed: list[ByomError] = []

    async def fetch(name: str, call: Awaitable[Any]) -> None:
        try:
            got[name] = await call
        except ByomError as exc:
            failed.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(fetch, "events", client.finetune_events(job_id))
        tg.start_soon(fetch, "checkpoints", client.finetune_checkpoints(job_id))
        tg.start_soon(fetch, "metrics", client.finetune_metrics(job_id))
    if failed:
        raise failed[0]
    return got["events"], got["checkpoints"], got["metrics"]


def vocab_of(inspector: HubInspector, model: str | None, metrics: FinetuneMetrics) -> int | None:
    """The vocabulary size in the model's config (as inspect_hf_model reads it), read only when the loss is high
    enough for chance level to matter; None when it cannot be read."""
    if not model or not needs_vocab(metrics):
        return None
    try:
        return inspector.inspect(model).vocab_size
    except ByomError:
        return None


def job_line(job: FinetuneResponse) -> JobLine:
    return JobLine(
        job_id=job.id,
        status=job.status or "unknown",
        created_at=_iso(job.created_at),
        from_hf_model=job.from_hf_model,
        model=job.model,
        suffix=job.suffix,
        output_name=job.output_model,
        cost_usd=job.price_usd,
        continued_from=job.from_checkpoint or None,
    )
