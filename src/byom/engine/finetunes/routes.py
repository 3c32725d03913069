"""Fine-tunes API: create (validated against the template's limits), list, retrieve, events,
checkpoints, metrics, cancel, delete, the price estimate and the tokenization preview (ref together-api-2026-11 §2)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from byom.data import decide_max_seq_length
from byom.engine.db import iso, new_id
from byom.engine.files import file_blob
from byom.engine.finetunes.bodies import (
    CheckpointList,
    Deleted,
    EventList,
    FinetuneJob,
    JobError,
    JobList,
    Metrics,
    PriceEstimate,
)
from byom.engine.finetunes.jobs import (
    ACTIVE,
    TERMINAL,
    USER_ID,
    add_event,
    checkpoint_payload,
    event_payload,
    job_payload,
)
from byom.engine.finetunes.plan import local_tokenizer_dir, model_config, plan_job
from byom.engine.finetunes.preview import preview_finetune
from byom.engine.finetunes.request import CreateFineTune, EstimatePrice
from byom.engine.finetunes.tokens import count_file_tokens, count_file_tokens_exact
from byom.engine.http import answer, int_query, parse_body
from byom.engine.state import EngineState, engine_of
from byom.engine.templates import limits_for
from byom.errors import Conflict, InvalidRequest, NotFound, QueueFull

__all__ = ["get_job_row", "routes"]

log = logging.getLogger("byom.engine.finetunes")


def get_job_row(state: EngineState, job_id: str) -> Any:
    row = state.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise NotFound(f"Fine-tune job '{job_id}' not found. List jobs with GET /v1/fine-tunes.", param="id")
    return row


# ---- create ---------------------------------------------------------------------------------------
async def create_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    req = await parse_body(request, CreateFineTune)
    job_id = new_id("ft")
    # "max" batch sizes depend on the device, probed in a subprocess (the service never imports torch).
    device = "cpu"
    if req.batch_size == "max":
        device = await run_in_threadpool(state.runner.device)
    # Off the event loop: planning reads the model's files and huggingface_hub's cache.
    plan = await run_in_threadpool(plan_job, state, req, job_id, device)
    # Everything that can fail is done before the transaction: a failed create must leave no row behind
    # (a stored row that cannot be rendered would break every later list). allow_nan=False: strict JSON.
    echo, spec = json.dumps(plan.echo, allow_nan=False), plan.spec.model_dump_json()
    token = req.hf_api_token.get_secret_value() if req.hf_api_token else None
    now = time.time()
    with state.db.transaction() as conn:
        _check_queue_room(conn, state.settings.engine_max_queued)
        seq = conn.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM jobs").fetchone()[0]
        conn.execute(
            "INSERT INTO jobs (id, status, created_at, updated_at, queue_seq, request, spec, model_output_name,"
            " training_file, validation_file, hf_token_given) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                now,
                now,
                seq,
                echo,
                spec,
                plan.output_name,
                plan.training_file,
                plan.validation_file,
                1 if token else 0,
            ),
        )
        message = f"Fine-tune job created: {plan.from_hf_model} → {plan.output_name}."
        add_event(conn, job_id, "job_pending", message, when=now)
        for warning in plan.warnings:
            add_event(conn, job_id, "warning", warning, level="warning", when=now)
        # Inside the transaction (the db lock is re-entrant): the runner sees the job only once committed.
        state.runner.submit(job_id, token)
    return answer(_render_job(state, get_job_row(state, job_id)))


def _check_queue_room(conn: Any, cap: int) -> None:
    """A 429 when ``cap`` jobs already wait to start; in the create's transaction, so concurrent creates cannot
    both take the last place."""
    waiting = conn.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'queued')").fetchone()[0]
    if waiting >= cap:
        raise QueueFull(
            f"The engine's job queue is full: it holds {waiting} fine-tune job{'' if waiting == 1 else 's'} waiting"
            f" to start, its cap (BYOM_ENGINE_MAX_QUEUED={cap}); this job was not created. Cancel queued jobs you no"
            " longer need (POST /v1/fine-tunes/<id>/cancel) or wait for some to start, then create it again; or"
            " restart the engine with a higher BYOM_ENGINE_MAX_QUEUED.",
            code=QueueFull.CODE,
            headers={"x-should-retry": "false"},  # retrying at once cannot help: the queue drains in minutes
        )


# ---- reads ----------------------------------------------------------------------------------------
_PLAIN_COLUMNS = ("status", "model_output_name", "steps_completed", "error_message")


def _render_job(state: EngineState, row: Any) -> FinetuneJob:
    """The job's body; for a row whose stored JSON is unreadable, what its plain columns still say.

    One damaged row (an older engine's bug, a hand edit) must not make every list of jobs fail.
    """
    try:
        body = job_payload(state.db, row)
        body.model_dump_json()  # what the answer will do: fail here, not while rendering
        return body
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, OSError) as exc:
        log.warning("job %s cannot be rendered (%r); showing its plain columns only", row["id"], exc)
    plain = {name: row[name] for name in _PLAIN_COLUMNS if isinstance(row[name], (str, int))}
    times: dict[str, str] = {}
    for name in ("created_at", "updated_at"):
        try:
            times[name] = iso(float(row[name]))
        except (ValueError, TypeError, ArithmeticError, OSError):
            pass  # absent rather than wrong
    message = plain.pop("error_message", None)
    return FinetuneJob(
        id=row["id"],
        job_id=row["id"],
        user_id=USER_ID,
        status=str(plain.pop("status", "unknown")),
        error=JobError(message=str(message)) if message else None,
        **plain,
        **times,
    )


async def list_jobs(request: Request) -> JSONResponse:
    state = engine_of(request)
    rows = state.db.query("SELECT * FROM jobs ORDER BY created_at, queue_seq")
    return answer(JobList(data=[_render_job(state, r) for r in rows]))


async def retrieve_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    return answer(_render_job(state, get_job_row(state, request.path_params["job_id"])))


async def list_events(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    rows = state.db.query("SELECT * FROM job_events WHERE job_id = ? ORDER BY seq", (job["id"],))
    return answer(EventList(data=[event_payload(r) for r in rows]))


async def list_checkpoints(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    rows = state.db.query(
        "SELECT * FROM job_checkpoints WHERE job_id = ? ORDER BY step DESC, seq DESC", (job["id"],)
    )
    return answer(CheckpointList(data=[checkpoint_payload(r) for r in rows]))


def _time_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise InvalidRequest(
            f"Query parameter '{name}' must be an ISO-8601 date-time, e.g. 2026-11-28T10:00:00Z.", param=name
        ) from None


async def list_metrics(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    step_from, step_to = (
        int_query(request, "global_step_from", None, 0, 2**62),
        int_query(request, "global_step_to", None, 0, 2**62),
    )
    at_from, at_to = _time_param(request, "logged_at_from"), _time_param(request, "logged_at_to")
    resolution = int_query(request, "resolution", None, 1, 100_000)
    rows = state.db.query("SELECT * FROM job_metrics WHERE job_id = ? ORDER BY step, seq", (job["id"],))
    points = []
    for r in rows:
        if (step_from is not None and r["step"] < step_from) or (step_to is not None and r["step"] > step_to):
            continue
        if (at_from is not None and r["logged_at"] < at_from) or (
            at_to is not None and r["logged_at"] > at_to
        ):
            continue
        points.append({**json.loads(r["metrics"]), "train/global_step": float(r["step"])})
    if resolution is not None and len(points) > resolution:
        # Uniform sample that keeps the first and last point.
        last = len(points) - 1
        picks = sorted({round(i * last / max(resolution - 1, 1)) for i in range(resolution)})
        points = [points[i] for i in picks]
    return answer(Metrics(metrics=points))


# ---- changes --------------------------------------------------------------------------------------
async def cancel_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    if job["status"] in TERMINAL and job["status"] != "cancelled":
        raise InvalidRequest(
            f"Job {job['id']} already ended ({job['status']}); there is nothing to cancel.", param="id"
        )
    # The row as the cancel left it: a later change (the runner ending the job) must not make the
    # answer claim more than the cancel did.
    # Off the event loop: the cancel may wait for the runner's lock while a job's outputs are registered.
    row = await run_in_threadpool(state.runner.cancel, job["id"]) if job["status"] != "cancelled" else job
    return answer(_render_job(state, row or get_job_row(state, job["id"])))


async def delete_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    if job["status"] in ACTIVE:
        raise Conflict(
            f"Job {job['id']} is {job['status']}. Cancel it first, then delete it.",
            headers={"x-should-retry": "false"},
        )
    registered = bool(
        json.loads(job["registry"] or "{}").get("model_object_id")
        or json.loads(job["registry"] or "{}").get("adapter_object_id")
    )
    with state.db.transaction() as conn:
        for table in ("job_events", "job_metrics", "job_checkpoints"):
            conn.execute(f"DELETE FROM {table} WHERE job_id = ?", (job["id"],))
        conn.execute("DELETE FROM jobs WHERE id = ?", (job["id"],))
    job_dir = Path(json.loads(job["spec"])["job_dir"])
    if registered:
        # Registered models point at these weights (deployments may use them): keep the files.
        message = f"Deleted job {job['id']}; its registered model weights were kept."
    else:
        shutil.rmtree(job_dir, ignore_errors=True)
        message = f"Deleted job {job['id']} and its files."
    return answer(Deleted(id=job["id"], deleted=True, message=message))


async def estimate_price(request: Request) -> JSONResponse:
    state = engine_of(request)
    req = await parse_body(request, EstimatePrice)
    if req.model and limits_for(req.model) is None:
        raise InvalidRequest(
            f"Model '{req.model}' is not a fine-tuning base of this engine. See GET /v2/supported-models.",
            param="model",
        )
    tokenizer_dir = (
        local_tokenizer_dir(state, req.from_hf_model, req.hf_model_revision) if req.from_hf_model else None
    )
    limits = limits_for(req.model) if req.model else None
    config = model_config(tokenizer_dir) if tokenizer_dir is not None else None
    max_seq_length = decide_max_seq_length(
        None, config=config, base_limit=int(limits["max_seq_length_sft"]) if limits else None
    ).value
    notes: list[str] = []

    def count(path: Path | None) -> float:
        if tokenizer_dir is not None and path is not None and not notes:
            try:
                return float(count_file_tokens_exact(path, tokenizer_dir, max_seq_length=max_seq_length))
            except Exception as exc:  # noqa: BLE001 - any tokenizer failure falls back to the approximate count
                # A tokenizer that won't load (missing stack, broken files, no chat template) is the job's
                # problem to report at create; the estimate still answers.
                log.info("exact token count with %s failed: %r", tokenizer_dir, exc)
                notes.append(
                    f"The tokenizer of from_hf_model could not be used ({type(exc).__name__}: {str(exc)[:160]});"
                    " the token counts are approximate. Check that the model directory holds its tokenizer."
                )
        return count_file_tokens(path)

    counts: dict[str, float] = {}
    for param, file_id in (("training_file", req.training_file), ("validation_file", req.validation_file)):
        if not file_id:
            continue
        row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
        if row is None or not row["sha256"]:
            raise InvalidRequest(
                f"{param} '{file_id}' is not an uploaded file of this engine. Upload it first.", param=param
            )
        prefix = "train" if param == "training_file" else "eval"
        status = row["processing_status"]
        if status != "COMPLETED":
            reason = (
                f"{prefix}_file_invalid"
                if status in ("INVALID_FORMAT", "FAILED")
                else f"{prefix}_file_not_validated"
            )
            return answer(PriceEstimate(estimation_available=False, unavailable_reason=reason))
        counts[prefix] = await run_in_threadpool(count, file_blob(state, row))
    train_tokens = counts.get("train", 0.0) * req.n_epochs
    eval_tokens = counts.get("eval", 0.0) * req.n_evals
    # Local training costs no money: price 0, always allowed.
    return answer(
        PriceEstimate(
            estimation_available=True,
            allowed_to_proceed=True,
            estimated_total_price=0.0,
            estimated_train_token_count=train_tokens,
            estimated_eval_token_count=eval_tokens,
            user_limit=0.0,
            token_count_method="tokenizer" if tokenizer_dir is not None and not notes else "approximate",
            token_count_note=notes[0] if notes else None,
        )
    )


routes = [
    Route("/v1/fine-tunes", create_job, methods=["POST"]),
    Route("/v1/fine-tunes", list_jobs, methods=["GET"]),
    Route("/v1/fine-tunes/estimate-price", estimate_price, methods=["POST"]),
    Route("/v1/fine-tunes/preview", preview_finetune, methods=["POST"]),
    Route("/v1/fine-tunes/{job_id}", retrieve_job, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}", delete_job, methods=["DELETE"]),
    Route("/v1/fine-tunes/{job_id}/events", list_events, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}/checkpoints", list_checkpoints, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}/metrics", list_metrics, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}/cancel", cancel_job, methods=["POST"]),
]
