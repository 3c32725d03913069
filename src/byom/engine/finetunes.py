"""Fine-tunes API: create (validated against the template's limits), list, retrieve, events,
checkpoints, metrics, cancel, delete and the price estimate (ref together-api-2026-11 §2)."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from byom.engine._ft_request import CreateFineTune, EstimatePrice, TrainingMethod, TrainingType
from byom.engine._http import APIError, parse_body
from byom.engine._tokens import count_file_tokens
from byom.engine.files import file_blob
from byom.engine.jobs import (
    ACTIVE,
    TERMINAL,
    add_event,
    checkpoint_payload,
    event_payload,
    job_payload,
    set_status,
)
from byom.engine.meta import limits_for
from byom.engine.state import EngineState, engine_of
from byom.engine.trainer import LoraSpec, TrainSpec, unsupported_reason

__all__ = ["get_job_row", "routes"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?$")
_MODULES = re.compile(r"^[A-Za-z_][\w.-]*(,\s*[A-Za-z_][\w.-]*)*$")
# Per-device caps for batch_size="max": Together's maxima assume its large GPUs.
_MAX_BATCH_CAP = {"cpu": 8, "cuda": 16}
_IGNORED_FIELDS = {
    "wandb_key": "Weights & Biases logging",
    "wandb_api_key": "Weights & Biases logging",
    "wandb_base_url": "Weights & Biases logging",
    "wandb_project_name": "Weights & Biases logging",
    "wandb_name": "Weights & Biases logging",
    "wandb_entity": "Weights & Biases logging",
    "hf_output_repo_name": "pushing the result to the Hugging Face Hub",
    "multimodal_params": "vision training",
}


def get_job_row(state: EngineState, job_id: str) -> Any:
    row = state.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if row is None:
        raise APIError(
            404, f"Fine-tune job '{job_id}' not found. List jobs with GET /v1/fine-tunes.", param="id"
        )
    return row


def _bad(param: str, message: str) -> APIError:
    return APIError(400, message, param=param)


# ---- create ---------------------------------------------------------------------------------------
def _ready_file(state: EngineState, file_id: str, param: str) -> Any:
    row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
    if row is None:
        raise _bad(
            param, f"{param} '{file_id}' is not a file of this engine. Upload it first (POST /v1/files)."
        )
    if not row["sha256"]:
        raise _bad(
            param, f"{param} '{file_id}' has no content yet: its upload did not finish. Upload it again."
        )
    status = row["processing_status"]
    if status in (None, "PENDING", "QUEUED", "RUNNING"):
        raise _bad(
            param,
            f"{param} '{file_id}' is still being validated. Poll GET /v1/files/{file_id} until COMPLETED.",
        )
    if status != "COMPLETED":
        report = json.loads(row["validation_report"] or "{}")
        error = (report.get("error") or "it did not pass validation").rstrip(".")
        raise _bad(
            param,
            f"{param} '{file_id}' is not valid training data ({status}): {error}. Fix the file and upload it again.",
        )
    if row["purpose"] != "fine-tune":
        raise _bad(
            param,
            f"{param} '{file_id}' was uploaded with purpose '{row['purpose']}'; upload it with purpose 'fine-tune'.",
        )
    return row


def _local_model_dir(state: EngineState, value: str) -> Path | None:
    """A local directory given as ``from_hf_model``, checked against the allowed roots; None for a Hub id."""
    if not value.startswith(("/", "~", "./", "../")):
        return None
    path = Path(value).expanduser().resolve()
    roots = [Path(r).expanduser().resolve() for r in state.config.allowed_roots]
    if not any(path == root or path.is_relative_to(root) for root in roots):
        raise _bad(
            "from_hf_model",
            f"Local model directory {value} is outside the directories this engine may read. Move it under your home"
            " or the engine's data dir, or start the engine with --allow-dir.",
        )
    if not (path / "config.json").is_file():
        raise _bad(
            "from_hf_model", f"{value} is not a model directory (no config.json). Point at a saved model."
        )
    return path


def _resolve_checkpoint(state: EngineState, ref: str) -> tuple[Any, Any]:
    """``{job_id}`` or ``{job_id}:{step}`` (or the job's output name) → (parent job row, checkpoint row)."""
    name, _, step_text = ref.rpartition(":") if re.search(r":\d+$", ref) else (ref, "", "")
    parent = state.db.one("SELECT * FROM jobs WHERE id = ? OR model_output_name = ?", (name, name))
    if parent is None:
        raise _bad(
            "from_checkpoint",
            f"No fine-tune job '{name}' to continue from. Use a job id, optionally ':<step>'.",
        )
    rows = state.db.query(
        "SELECT * FROM job_checkpoints WHERE job_id = ? ORDER BY final DESC, step DESC, seq DESC",
        (parent["id"],),
    )
    if step_text:
        rows = [r for r in rows if r["step"] == int(step_text)]
    rows = [r for r in rows if Path(r["path"]).is_dir()]
    if not rows:
        steps = sorted(
            {
                r["step"]
                for r in state.db.query("SELECT step FROM job_checkpoints WHERE job_id = ?", (parent["id"],))
            }
        )
        hint = f" Saved steps: {steps}." if steps else " It saved no checkpoint."
        raise _bad(
            "from_checkpoint",
            f"Job {parent['id']} has no checkpoint{' at step ' + step_text if step_text else ''}.{hint}",
        )
    spec = json.loads(parent["spec"])
    wanted = "adapter" if spec["training_type"] == "lora" else "model"
    best = next((r for r in rows if r["checkpoint"] == wanted), rows[0])
    return parent, best


def _check_range(param: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise _bad(param, f"{param}={value} is outside the allowed range for this model: {low} to {high}.")


async def create_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    req = await parse_body(request, CreateFineTune)
    job_id = f"ft-{uuid.uuid4()}"
    warnings: list[str] = []
    parent = checkpoint = None
    parent_request: dict[str, Any] = {}
    if req.from_checkpoint:
        if req.from_hf_model:
            raise _bad("from_checkpoint", "Give either from_checkpoint or from_hf_model, not both.")
        parent, checkpoint = _resolve_checkpoint(state, req.from_checkpoint)
        parent_request = json.loads(parent["request"])
    model = req.model or parent_request.get("model")
    if not model:
        raise _bad(
            "model",
            "Field 'model' is required: the Together base model used as template (see GET /v2/supported-models).",
        )
    limits = limits_for(model)
    if limits is None:
        raise _bad(
            "model",
            f"Model '{model}' is not a fine-tuning base of this engine. See GET /v2/supported-models?product=PRODUCT_FINE_TUNING.",
        )
    from_hf_model = (req.from_hf_model or parent_request.get("from_hf_model") or model).strip()
    local_dir = _local_model_dir(state, from_hf_model)
    if local_dir is None and not _HUB_ID.match(from_hf_model):
        raise _bad(
            "from_hf_model",
            f"'{from_hf_model}' is neither a Hub repo id (org/name) nor an absolute local directory.",
        )
    revision = req.hf_model_revision or parent_request.get("hf_model_revision")

    # Training type: given, else the parent's (from_checkpoint), else LoRA (ref §2.3).
    tt = req.training_type
    parent_tt = parent_request.get("training_type")
    if tt is None and parent_tt:
        tt = TrainingType.model_validate(parent_tt)
    if tt is None:
        tt = TrainingType(type="Lora")
    if parent_tt and tt.type != parent_tt["type"]:
        raise _bad(
            "training_type",
            f"from_checkpoint continues a {parent_tt['type']} job; training_type must be {parent_tt['type']}.",
        )
    method = req.training_method or TrainingMethod()
    train_on_inputs = method.train_on_inputs if method.train_on_inputs is not None else req.train_on_inputs
    if method.method == "sft" and (method.dpo_beta is not None or method.rpo_alpha or method.simpo_gamma):
        raise _bad(
            "training_method",
            "dpo_beta, rpo_alpha and simpo_gamma apply to DPO only; set method 'dpo' or remove them.",
        )
    if method.method == "dpo" and train_on_inputs not in (None, "auto"):
        raise _bad("training_method.train_on_inputs", "train_on_inputs is only supported for SFT training.")
    if method.rpo_alpha or method.simpo_gamma:
        warnings.append(
            "rpo_alpha and simpo_gamma are not supported by the local trainer and were ignored (plain DPO)."
        )

    if tt.type == "Full":
        if limits.get("full_training") is None:
            raise _bad("training_type", f"Full training is not supported for {model}. Use LoRA.")
        batch_limits = limits["full_training"]
        lora = LoraSpec()
    else:
        lt = limits["lora_training"]
        batch_limits = lt
        r = tt.lora_r or lt["default_rank"]
        _check_range("training_type.lora_r", r, 1, lt["max_rank"])
        modules = (tt.lora_trainable_modules or "all-linear").strip()
        if not _MODULES.match(modules):
            raise _bad(
                "training_type.lora_trainable_modules",
                "Give module names separated by commas, or 'all-linear'.",
            )
        lora = LoraSpec(
            r=r, alpha=int(tt.lora_alpha or 2 * r), dropout=tt.lora_dropout or 0.0, trainable_modules=modules
        )

    _check_range("n_epochs", req.n_epochs, 1, limits["max_num_epochs"])
    _check_range("n_checkpoints", req.n_checkpoints, 1, limits["max_num_checkpoints"])
    _check_range("n_evals", req.n_evals, 0, limits["max_num_evals"])
    _check_range("learning_rate", req.learning_rate, limits["min_learning_rate"], limits["max_learning_rate"])
    seq_max = limits["max_seq_length_dpo" if method.method == "dpo" else "max_seq_length_sft"]
    max_seq_length = req.max_seq_length or min(2048, seq_max)
    _check_range("max_seq_length", max_seq_length, limits["min_max_seq_length"], seq_max)
    max_batch = batch_limits["max_batch_size_dpo" if method.method == "dpo" else "max_batch_size"]
    if req.batch_size == "max":
        device = await run_in_threadpool(state.runner.device) if state.runner else "cpu"
        batch_size = max(batch_limits["min_batch_size"], min(max_batch, _MAX_BATCH_CAP.get(device, 8)))
    else:
        batch_size = req.batch_size
        # Below Together's minimum is fine on a local device (smaller memory); above its maximum is not.
        _check_range("batch_size", batch_size, 1, max_batch)
    accumulation = req.gradient_accumulation_steps or limits["default_gradient_accumulation_steps"]

    training = _ready_file(state, req.training_file, "training_file")
    validation = _ready_file(state, req.validation_file, "validation_file") if req.validation_file else None
    dataset_format = (json.loads(training["validation_report"] or "{}").get("dataset_format") or "").lower()
    if dataset_format and (dataset_format == "preference") != (method.method == "dpo"):
        raise _bad(
            "training_method",
            "DPO needs preference data (input / preferred_output / non_preferred_output); this file is "
            f"{dataset_format}. Use SFT, or upload preference data."
            if method.method == "dpo"
            else "This training file holds preference data, which trains with DPO: set training_method"
            ' {"method": "dpo"}.',
        )
    if req.n_evals > 0 and validation is None:
        raise _bad("n_evals", "n_evals > 0 needs a validation_file. Upload one, or set n_evals to 0.")
    if req.early_stopping_enabled or req.early_stopping_patience is not None:
        warnings.append(
            "Early stopping is not supported by the local engine; the job trains for all n_epochs."
        )
    extras = sorted((req.model_extra or {}).keys())
    ignored = sorted({_IGNORED_FIELDS[k] for k in _IGNORED_FIELDS if getattr(req, k, None)})
    warnings += [f"The local engine does not support {what}; those fields were ignored." for what in ignored]
    if extras:
        warnings.append(f"Unknown fields ignored: {', '.join(extras)[:300]}.")

    scheduler = req.lr_scheduler
    scheduler_type = (scheduler.lr_scheduler_type if scheduler else "") or "cosine"
    args = scheduler.lr_scheduler_args if scheduler and scheduler.lr_scheduler_args else None
    min_lr_ratio = args.min_lr_ratio if args else 0.0
    num_cycles = args.num_cycles if args else 0.5
    job_dir = state.data_dir / "jobs" / job_id
    spec = TrainSpec(
        job_id=job_id,
        job_dir=job_dir,
        from_hf_model=str(local_dir) if local_dir else from_hf_model,
        hf_model_revision=revision,
        init_checkpoint=Path(checkpoint["path"]) if checkpoint is not None else None,
        training_file=file_blob(state, training),  # type: ignore[arg-type]
        validation_file=file_blob(state, validation) if validation is not None else None,
        n_epochs=req.n_epochs,
        n_checkpoints=req.n_checkpoints,
        n_evals=req.n_evals,
        batch_size=batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=req.learning_rate,
        lr_scheduler_type=scheduler_type,  # type: ignore[arg-type]
        min_lr_ratio=min_lr_ratio,
        num_cycles=num_cycles,
        warmup_ratio=req.warmup_ratio,
        max_grad_norm=req.max_grad_norm,
        weight_decay=req.weight_decay,
        max_seq_length=max_seq_length,
        packing=req.packing,
        training_type="full" if tt.type == "Full" else "lora",
        lora=lora,
        method=method.method,
        train_on_inputs=train_on_inputs if train_on_inputs is not None else "auto",
        dpo_beta=method.dpo_beta if method.dpo_beta is not None else 0.1,
        random_seed=req.random_seed if req.random_seed is not None else 42,
        device=state.config.device,
    )
    reason = unsupported_reason(spec)
    if reason:
        raise _bad("training_method" if spec.method == "dpo" else "batch_size", reason)
    output_name = _output_name(state, from_hf_model, req.suffix, job_id)
    echo = _echo(req, spec, model, from_hf_model, revision, training, validation, tt)
    now = time.time()
    with state.db.transaction() as conn:
        seq = conn.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM jobs").fetchone()[0]
        conn.execute(
            "INSERT INTO jobs (id, status, created_at, updated_at, queue_seq, request, spec, model_output_name,"
            " training_file, validation_file) VALUES (?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                now,
                now,
                seq,
                json.dumps(echo),
                spec.model_dump_json(),
                output_name,
                training["id"],
                validation["id"] if validation is not None else None,
            ),
        )
    add_event(
        state.db, job_id, "job_pending", f"Fine-tune job created: {from_hf_model} → {output_name}.", when=now
    )
    for warning in warnings:
        add_event(state.db, job_id, "warning", warning, level="warning", when=now)
    token = req.hf_api_token.get_secret_value() if req.hf_api_token else None
    if token:
        state.db.execute("UPDATE jobs SET hf_token_given = 1 WHERE id = ?", (job_id,))
    if state.runner is not None:
        state.runner.submit(job_id, token)
    return JSONResponse(job_payload(state.db, get_job_row(state, job_id)))


def _output_name(state: EngineState, from_hf_model: str, suffix: str | None, job_id: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", from_hf_model.rstrip("/").split("/")[-1]).strip("-") or "model"
    parts = [base]
    if suffix:
        parts.append(re.sub(r"[^A-Za-z0-9._-]+", "-", suffix).strip("-"))
    parts.append(job_id.removeprefix("ft-")[:8])
    return f"{state.project['slug']}/{'-'.join(p for p in parts if p)}"


def _echo(
    req: CreateFineTune,
    spec: TrainSpec,
    model: str,
    from_hf_model: str,
    revision: str | None,
    training: Any,
    validation: Any,
    tt: TrainingType,
) -> dict[str, Any]:
    """The request as the job object echoes it (secrets never included)."""
    scheduler_args: dict[str, float] = {"min_lr_ratio": spec.min_lr_ratio}
    if spec.lr_scheduler_type == "cosine":
        scheduler_args["num_cycles"] = spec.num_cycles
    if spec.training_type == "lora":
        training_type: dict[str, Any] = {
            "type": "Lora",
            "lora_r": spec.lora.r,
            "lora_alpha": spec.lora.alpha,
            "lora_dropout": spec.lora.dropout,
            "lora_trainable_modules": spec.lora.trainable_modules,
        }
    else:
        training_type = {"type": "Full"}
    if spec.method == "dpo":
        training_method: dict[str, Any] = {"method": "dpo", "dpo_beta": spec.dpo_beta}
    else:
        training_method = {"method": "sft", "train_on_inputs": spec.train_on_inputs}
    report = json.loads(training["validation_report"] or "{}")
    echo: dict[str, Any] = {
        "model": model,
        "from_hf_model": from_hf_model,
        "hf_model_revision": revision,
        "from_checkpoint": req.from_checkpoint,
        "training_file": training["id"],
        "validation_file": validation["id"] if validation is not None else None,
        "n_epochs": spec.n_epochs,
        "n_checkpoints": spec.n_checkpoints,
        "n_evals": spec.n_evals,
        "batch_size": spec.batch_size,
        "gradient_accumulation_steps": spec.gradient_accumulation_steps,
        "learning_rate": spec.learning_rate,
        "lr_scheduler": {"lr_scheduler_type": spec.lr_scheduler_type, "lr_scheduler_args": scheduler_args},
        "warmup_ratio": spec.warmup_ratio,
        "max_grad_norm": spec.max_grad_norm,
        "weight_decay": spec.weight_decay,
        "max_seq_length": spec.max_seq_length,
        "packing": spec.packing,
        "training_type": training_type,
        "training_method": training_method,
        "train_on_inputs": spec.train_on_inputs,
        "suffix": req.suffix,
        "random_seed": spec.random_seed,
        "trainingfile_numlines": report.get("nlines"),
        "trainingfile_size": training["bytes"],
    }
    return {k: v for k, v in echo.items() if v is not None}


# ---- reads ----------------------------------------------------------------------------------------
async def list_jobs(request: Request) -> JSONResponse:
    state = engine_of(request)
    rows = state.db.query("SELECT * FROM jobs ORDER BY created_at, queue_seq")
    return JSONResponse({"object": "list", "data": [job_payload(state.db, r) for r in rows]})


async def retrieve_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    return JSONResponse(job_payload(state.db, get_job_row(state, request.path_params["job_id"])))


async def list_events(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    rows = state.db.query("SELECT * FROM job_events WHERE job_id = ? ORDER BY seq", (job["id"],))
    return JSONResponse({"object": "list", "data": [event_payload(r) for r in rows]})


async def list_checkpoints(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    rows = state.db.query(
        "SELECT * FROM job_checkpoints WHERE job_id = ? ORDER BY step DESC, seq DESC", (job["id"],)
    )
    return JSONResponse({"object": "list", "data": [checkpoint_payload(r) for r in rows]})


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad(name, f"Query parameter '{name}' must be an integer.") from None


def _time_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return datetime.fromisoformat(raw).timestamp()
    except ValueError:
        raise _bad(
            name, f"Query parameter '{name}' must be an ISO-8601 date-time, e.g. 2026-11-28T10:00:00Z."
        ) from None


async def list_metrics(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    step_from, step_to = _int_param(request, "global_step_from"), _int_param(request, "global_step_to")
    at_from, at_to = _time_param(request, "logged_at_from"), _time_param(request, "logged_at_to")
    resolution = _int_param(request, "resolution")
    if resolution is not None and resolution < 1:
        raise _bad("resolution", "resolution must be at least 1 (the number of points to sample).")
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
    return JSONResponse({"metrics": points})


# ---- changes --------------------------------------------------------------------------------------
async def cancel_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    if job["status"] in ("completed", "error", "user_error"):
        raise APIError(
            400, f"Job {job['id']} already ended ({job['status']}); there is nothing to cancel.", param="id"
        )
    if job["status"] != "cancelled":
        if state.runner is not None:
            state.runner.cancel(job["id"])
        else:
            set_status(state.db, job["id"], "cancelled")
            add_event(state.db, job["id"], "job_stopped", "Job cancelled before it started.")
    return JSONResponse(job_payload(state.db, get_job_row(state, job["id"])))


async def delete_job(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = get_job_row(state, request.path_params["job_id"])
    if job["status"] in ACTIVE:
        raise APIError(
            409,
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
    assert job["status"] in TERMINAL
    return JSONResponse({"id": job["id"], "deleted": True, "message": message})


async def estimate_price(request: Request) -> JSONResponse:
    state = engine_of(request)
    req = await parse_body(request, EstimatePrice)
    if req.model and limits_for(req.model) is None:
        raise _bad(
            "model",
            f"Model '{req.model}' is not a fine-tuning base of this engine. See GET /v2/supported-models.",
        )
    counts: dict[str, float] = {}
    for param, file_id in (("training_file", req.training_file), ("validation_file", req.validation_file)):
        if not file_id:
            continue
        row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
        if row is None or not row["sha256"]:
            raise _bad(param, f"{param} '{file_id}' is not an uploaded file of this engine. Upload it first.")
        prefix = "train" if param == "training_file" else "eval"
        status = row["processing_status"]
        if status != "COMPLETED":
            reason = (
                f"{prefix}_file_invalid"
                if status in ("INVALID_FORMAT", "FAILED")
                else f"{prefix}_file_not_validated"
            )
            return JSONResponse({"estimation_available": False, "unavailable_reason": reason})
        counts[prefix] = await run_in_threadpool(count_file_tokens, file_blob(state, row))
    train_tokens = counts.get("train", 0.0) * req.n_epochs
    eval_tokens = counts.get("eval", 0.0) * req.n_evals
    # Local training costs no money: price 0, always allowed.
    return JSONResponse(
        {
            "estimation_available": True,
            "allowed_to_proceed": True,
            "estimated_total_price": 0.0,
            "estimated_train_token_count": train_tokens,
            "estimated_eval_token_count": eval_tokens,
            "user_limit": 0.0,
        }
    )


routes = [
    Route("/v1/fine-tunes", create_job, methods=["POST"]),
    Route("/v1/fine-tunes", list_jobs, methods=["GET"]),
    Route("/v1/fine-tunes/estimate-price", estimate_price, methods=["POST"]),
    Route("/v1/fine-tunes/{job_id}", retrieve_job, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}", delete_job, methods=["DELETE"]),
    Route("/v1/fine-tunes/{job_id}/events", list_events, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}/checkpoints", list_checkpoints, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}/metrics", list_metrics, methods=["GET"]),
    Route("/v1/fine-tunes/{job_id}/cancel", cancel_job, methods=["POST"]),
]
