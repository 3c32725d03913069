"""Turn a ``POST /v1/fine-tunes`` body into a ``TrainSpec``: every check against the template's limits,
the files and the parent job, with a 400 that names the field (ref together-api-2026-11 §2.3-§2.5)."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byom.data import decide_max_seq_length
from byom.engine.files import file_blob
from byom.engine.finetunes.request import CreateFineTune, TrainingMethod, TrainingType
from byom.engine.localdirs import contained_dir, local_model_dir
from byom.engine.state import EngineState
from byom.engine.templates import limits_for
from byom.engine.trainer import LoraSpec, TrainSpec, context_length, unsupported_reason
from byom.errors import HubError, InvalidRequest
from byom.hub import chat_template_present, tokenizer_problem

__all__ = ["JobPlan", "local_tokenizer_dir", "model_config", "plan_job", "training_stack_missing"]

log = logging.getLogger("byom.engine.finetunes")

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}(/[\w.-]{1,96})?$")
_MODULES = re.compile(r"^[A-Za-z_][\w.-]*(,\s*[A-Za-z_][\w.-]*)*$")
# Per-device caps for batch_size="max": Together's maxima assume its large GPUs.
_MAX_BATCH_CAP = {"cpu": 8, "cuda": 16}
# What SDK clients send when the user set no max_seq_length: read as "the default", never as a choice.
SDK_DEFAULT_SEQ = 2048
# The packages the trainer subprocess imports (the ``local`` extra).
_TRAINING_STACK = ("torch", "transformers", "peft")
# config.json / tokenizer_config.json are small; a bigger one is not read whole into the service.
_MAX_CONFIG_BYTES = 4 * 1024**2
# Data rendered with the chat template: conversations, and the prompt side of preference pairs.
_CHAT_FORMATS = ("conversation", "preference")
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


@dataclass
class JobPlan:
    """What a valid request becomes: the trainer's spec, the job's echo of the request, its events."""

    spec: TrainSpec
    echo: dict[str, Any]
    output_name: str
    training_file: str
    validation_file: str | None
    from_hf_model: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Base:
    model: str
    limits: dict[str, Any]
    from_hf_model: str
    local_dir: Path | None
    revision: str | None
    checkpoint: Any
    parent_request: dict[str, Any]


def plan_job(state: EngineState, req: CreateFineTune, job_id: str, device: str) -> JobPlan:
    """Validate ``req`` and build the job's spec; raises ``InvalidRequest`` naming the bad field."""
    _require_training_stack()
    base = _base(state, req)
    limits = base.limits
    tt, lora, batch_limits = _training_type(req, base)
    method, train_on_inputs, warnings = _method(req)
    _check_range("n_epochs", req.n_epochs, 1, limits["max_num_epochs"])
    _check_range("n_checkpoints", req.n_checkpoints, 1, limits["max_num_checkpoints"])
    _check_range("n_evals", req.n_evals, 0, limits["max_num_evals"])
    _check_range("learning_rate", req.learning_rate, limits["min_learning_rate"], limits["max_learning_rate"])
    max_seq_length, note = _max_seq_length(req, base, method)
    warnings += [note] if note else []
    max_batch = batch_limits["max_batch_size_dpo" if method.method == "dpo" else "max_batch_size"]
    if req.batch_size == "max":
        batch_size = max(batch_limits["min_batch_size"], min(max_batch, _MAX_BATCH_CAP.get(device, 8)))
    else:
        batch_size = int(req.batch_size)
        # Below Together's minimum is fine on a local device (smaller memory); above its maximum is not.
        _check_range("batch_size", batch_size, 1, max_batch)
    training, validation = _data(state, req, method)
    if base.local_dir is not None:
        problem = _tokenizer_problem(base.local_dir, chat=_dataset_format(training) in _CHAT_FORMATS)
        if problem:
            raise InvalidRequest(problem, param="from_hf_model")
    warnings += _ignored(req)

    scheduler = req.lr_scheduler
    args = scheduler.lr_scheduler_args if scheduler and scheduler.lr_scheduler_args else None
    spec = TrainSpec(
        job_id=job_id,
        job_dir=state.data_dir / "jobs" / job_id,
        from_hf_model=str(base.local_dir) if base.local_dir else base.from_hf_model,
        hf_model_revision=base.revision,
        init_checkpoint=Path(base.checkpoint["path"]) if base.checkpoint is not None else None,
        init_from=(
            f"job {base.checkpoint['job_id']} step {base.checkpoint['step']}"
            if base.checkpoint is not None
            else None
        ),
        training_file=file_blob(state, training),
        validation_file=file_blob(state, validation) if validation is not None else None,
        n_epochs=req.n_epochs,
        n_checkpoints=req.n_checkpoints,
        n_evals=req.n_evals,
        batch_size=batch_size,
        gradient_accumulation_steps=req.gradient_accumulation_steps
        or limits["default_gradient_accumulation_steps"],
        learning_rate=req.learning_rate,
        lr_scheduler_type=(scheduler.lr_scheduler_type if scheduler else "") or "cosine",
        min_lr_ratio=args.min_lr_ratio if args else 0.0,
        num_cycles=args.num_cycles if args else 0.5,
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
        raise InvalidRequest(reason, param="training_method" if spec.method == "dpo" else "batch_size")
    return JobPlan(
        spec=spec,
        echo=_echo(req, spec, base, training, validation),
        output_name=_output_name(state, base.from_hf_model, req.suffix, job_id),
        training_file=training["id"],
        validation_file=validation["id"] if validation is not None else None,
        from_hf_model=base.from_hf_model,
        warnings=warnings,
    )


def _base(state: EngineState, req: CreateFineTune) -> _Base:
    """The template, its limits and the weights to start from (a Hub id, a local dir or a parent's checkpoint)."""
    checkpoint = None
    parent_request: dict[str, Any] = {}
    if req.from_checkpoint:
        if req.from_hf_model:
            raise InvalidRequest(
                "Give either from_checkpoint or from_hf_model, not both.", param="from_checkpoint"
            )
        parent, checkpoint = _resolve_checkpoint(state, req.from_checkpoint)
        parent_request = json.loads(parent["request"])
    model = req.model or parent_request.get("model")
    if not model:
        raise InvalidRequest(
            "Field 'model' is required: the Together base model used as template (see GET /v2/supported-models).",
            param="model",
        )
    limits = limits_for(model)
    if limits is None:
        raise InvalidRequest(
            f"Model '{model}' is not a fine-tuning base of this engine. See GET /v2/supported-models?product=PRODUCT_FINE_TUNING.",
            param="model",
        )
    from_hf_model = (req.from_hf_model or parent_request.get("from_hf_model") or model).strip()
    local_dir = local_model_dir(from_hf_model, state.config.allowed_roots, param="from_hf_model")
    if local_dir is None and not _HUB_ID.match(from_hf_model):
        raise InvalidRequest(
            f"'{from_hf_model}' is neither a Hub repo id (org/name) nor an absolute local directory.",
            param="from_hf_model",
        )
    revision = req.hf_model_revision or parent_request.get("hf_model_revision")
    return _Base(model, limits, from_hf_model, local_dir, revision, checkpoint, parent_request)


def _training_type(req: CreateFineTune, base: _Base) -> tuple[TrainingType, LoraSpec, dict[str, Any]]:
    """LoRA or full, with the LoRA settings and the batch limits that apply."""
    # Given, else the parent's (from_checkpoint), else LoRA (ref §2.3).
    tt = req.training_type
    parent_tt = base.parent_request.get("training_type")
    if tt is None and parent_tt:
        tt = TrainingType.model_validate(parent_tt)
    if tt is None:
        tt = TrainingType(type="Lora")
    if parent_tt and tt.type != parent_tt["type"]:
        raise InvalidRequest(
            f"from_checkpoint continues a {parent_tt['type']} job; training_type must be {parent_tt['type']}.",
            param="training_type",
        )
    if tt.type == "Full":
        if base.limits.get("full_training") is None:
            raise InvalidRequest(
                f"Full training is not supported for {base.model}. Use LoRA.", param="training_type"
            )
        return tt, LoraSpec(), base.limits["full_training"]
    lt = base.limits.get("lora_training")
    if lt is None:
        raise InvalidRequest(
            f"LoRA training is not supported for {base.model}. Use training_type Full.", param="training_type"
        )
    r = tt.lora_r or lt["default_rank"]
    _check_range("training_type.lora_r", r, 1, lt["max_rank"])
    modules = (tt.lora_trainable_modules or "all-linear").strip()
    if not _MODULES.match(modules):
        raise InvalidRequest(
            "Give module names separated by commas, or 'all-linear'.",
            param="training_type.lora_trainable_modules",
        )
    lora = LoraSpec(
        r=r, alpha=int(tt.lora_alpha or 2 * r), dropout=tt.lora_dropout or 0.0, trainable_modules=modules
    )
    return tt, lora, lt


def _method(req: CreateFineTune) -> tuple[TrainingMethod, Any, list[str]]:
    """SFT or DPO, the effective train_on_inputs, and warnings for ignored DPO variants."""
    method = req.training_method or TrainingMethod()
    train_on_inputs = method.train_on_inputs if method.train_on_inputs is not None else req.train_on_inputs
    if method.method == "sft" and (method.dpo_beta is not None or method.rpo_alpha or method.simpo_gamma):
        raise InvalidRequest(
            "dpo_beta, rpo_alpha and simpo_gamma apply to DPO only; set method 'dpo' or remove them.",
            param="training_method",
        )
    if method.method == "dpo" and train_on_inputs not in (None, "auto"):
        raise InvalidRequest(
            "train_on_inputs is only supported for SFT training.", param="training_method.train_on_inputs"
        )
    warnings = []
    if method.rpo_alpha or method.simpo_gamma:
        warnings.append(
            "rpo_alpha and simpo_gamma are not supported by the local trainer and were ignored (plain DPO)."
        )
    return method, train_on_inputs, warnings


def _data(state: EngineState, req: CreateFineTune, method: TrainingMethod) -> tuple[Any, Any]:
    """The training and validation file rows, ready and of the kind the method trains on."""
    training = _ready_file(state, req.training_file, "training_file")
    validation = _ready_file(state, req.validation_file, "validation_file") if req.validation_file else None
    dataset_format = _dataset_format(training)
    if dataset_format and (dataset_format == "preference") != (method.method == "dpo"):
        raise InvalidRequest(
            "DPO needs preference data (input / preferred_output / non_preferred_output); this file is "
            f"{dataset_format}. Use SFT, or upload preference data."
            if method.method == "dpo"
            else "This training file holds preference data, which trains with DPO: set training_method"
            ' {"method": "dpo"}.',
            param="training_method",
        )
    if req.n_evals > 0 and validation is None:
        raise InvalidRequest(
            "n_evals > 0 needs a validation_file. Upload one, or set n_evals to 0.", param="n_evals"
        )
    return training, validation


def _dataset_format(file_row: Any) -> str:
    """The file's format as its validation found it ("conversation", "preference", ...; "" if unknown)."""
    return str(json.loads(file_row["validation_report"] or "{}").get("dataset_format") or "").lower()


def _max_seq_length(req: CreateFineTune, base: _Base, method: TrainingMethod) -> tuple[int, str | None]:
    """The sequence length to train at (``decide_max_seq_length``: never over the custom model's context nor the
    base's limit); and a note when a default was capped."""
    limits = base.limits
    seq_max = limits["max_seq_length_dpo" if method.method == "dpo" else "max_seq_length_sft"]
    # The SDK sends 2048 whether or not the user chose it, so only another value is a choice to refuse.
    chosen = req.max_seq_length not in (None, SDK_DEFAULT_SEQ)
    seq = decide_max_seq_length(
        req.max_seq_length if chosen else None, context=_model_context(base), base_limit=seq_max
    )
    if seq.over_context:
        raise InvalidRequest(
            f"max_seq_length={req.max_seq_length} is over the context of {base.from_hf_model} ({seq.context} tokens, "
            f"from its config.json). Set max_seq_length ≤ {seq.context}.",
            param="max_seq_length",
        )
    value = seq.value if chosen or req.max_seq_length is None else min(SDK_DEFAULT_SEQ, seq.value)
    note = None
    if req.max_seq_length and value < req.max_seq_length and seq.context is not None and value == seq.context:
        note = f"max_seq_length {req.max_seq_length} is over this model's context ({seq.context}); training at {value}."
    # Together's minimum is for its own templates; a custom model with a shorter context still trains.
    _check_range("max_seq_length", value, min(limits["min_max_seq_length"], seq.context or seq_max), seq_max)
    return value, note


def _model_context(base: _Base) -> int | None:
    """The custom model's context length from its config.json, when the model is on disk (None otherwise).

    A Hub model not in the cache yet is capped by the trainer once downloaded.
    """
    model_dir = base.local_dir or _cached_snapshot(base.from_hf_model, base.revision)
    config = _read_json(model_dir / "config.json") if model_dir is not None else None
    return context_length(config) if config is not None else None


def model_config(directory: Path) -> dict[str, Any] | None:
    """The config.json of a model directory on disk (None when absent or unreadable)."""
    return _read_json(directory / "config.json")


def _read_json(path: Path) -> dict[str, Any] | None:
    """A small JSON object file, or None when absent, too big (over 4 MiB) or not a JSON object."""
    try:
        if not path.is_file() or path.stat().st_size > _MAX_CONFIG_BYTES:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _tokenizer_problem(directory: Path, *, chat: bool = False) -> str | None:
    """Why the tokenizer in a local model directory cannot serve this job (None if it can): the hub's file rules,
    plus, for conversation or preference data (``chat``), a chat template."""
    try:
        problem = tokenizer_problem(directory)
        if problem or not chat or chat_template_present(directory):
            return problem
    except HubError as exc:
        return str(exc)
    return (
        f"The training data is in conversation format, but the tokenizer in {directory} has no chat template"
        " (no chat_template in tokenizer_config.json, no chat_template.jinja), so the conversations cannot"
        " be rendered. Set tokenizer.chat_template (usually the instruct variant's) and save it with"
        f' tokenizer.save_pretrained({str(directory)!r}), or convert the data to the "text" or'
        ' "prompt"/"completion" format.'
    )


@functools.cache
def training_stack_missing() -> tuple[str, ...]:
    """The trainer's packages (torch, transformers, peft) that are not installed; found without importing them."""
    return tuple(name for name in _TRAINING_STACK if importlib.util.find_spec(name) is None)


def _require_training_stack() -> None:
    missing = training_stack_missing()
    if missing:
        raise InvalidRequest(
            f"This engine cannot train: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed"
            ' in its Python. Install the training extra, pip install "byom-mcp[local]" (on a machine without a'
            " CUDA GPU install the CPU build of torch first: pip install torch --index-url"
            " https://download.pytorch.org/whl/cpu), then restart the engine.",
            code="training_stack_missing",
            headers={"x-should-retry": "false"},
        )


def _ignored(req: CreateFineTune) -> list[str]:
    """Warnings for accepted fields the local engine does not act on."""
    warnings = []
    if req.early_stopping_enabled or req.early_stopping_patience is not None:
        warnings.append(
            "Early stopping is not supported by the local engine; the job trains for all n_epochs."
        )
    ignored = sorted({_IGNORED_FIELDS[k] for k in _IGNORED_FIELDS if getattr(req, k, None)})
    warnings += [f"The local engine does not support {what}; those fields were ignored." for what in ignored]
    extras = sorted((req.model_extra or {}).keys())
    if extras:
        warnings.append(f"Unknown fields ignored: {', '.join(extras)[:300]}.")
    return warnings


def _ready_file(state: EngineState, file_id: str, param: str) -> Any:
    row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
    if row is None:
        raise InvalidRequest(
            f"{param} '{file_id}' is not a file of this engine. Upload it first (POST /v1/files).",
            param=param,
        )
    if not row["sha256"]:
        raise InvalidRequest(
            f"{param} '{file_id}' has no content yet: its upload did not finish. Upload it again.",
            param=param,
        )
    status = row["processing_status"]
    if status in (None, "PENDING", "QUEUED", "RUNNING"):
        raise InvalidRequest(
            f"{param} '{file_id}' is still being validated. Poll GET /v1/files/{file_id} until COMPLETED.",
            param=param,
        )
    if status != "COMPLETED":
        report = json.loads(row["validation_report"] or "{}")
        error = (report.get("error") or "it did not pass validation").rstrip(".")
        raise InvalidRequest(
            f"{param} '{file_id}' is not valid training data ({status}): {error}. Fix the file and upload it again.",
            param=param,
        )
    if row["purpose"] != "fine-tune":
        raise InvalidRequest(
            f"{param} '{file_id}' was uploaded with purpose '{row['purpose']}'; upload it with purpose 'fine-tune'.",
            param=param,
        )
    return row


def local_tokenizer_dir(state: EngineState, from_hf_model: str, revision: str | None) -> Path | None:
    """Where this model's tokenizer already is on disk (a local dir, or the Hub cache); None if not here."""
    local = local_model_dir(from_hf_model, state.config.allowed_roots, param="from_hf_model")
    if local is not None:
        return local
    return _cached_snapshot(from_hf_model, revision)


def _cached_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """A Hub model's config and tokenizer files from the local cache (never the network); None if not cached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = Path(
            snapshot_download(
                repo_id,
                revision=revision,
                local_files_only=True,
                allow_patterns=["*.json", "*.jinja", "*.model", "*.txt"],
            )
        )
    except (LocalEntryNotFoundError, ValueError, OSError):
        return None
    return contained_dir(path, param="from_hf_model")


def _resolve_checkpoint(state: EngineState, ref: str) -> tuple[Any, Any]:
    """``{job_id}`` or ``{job_id}:{step}`` (or the job's output name) → (parent job row, checkpoint row)."""
    name, _, step_text = ref.rpartition(":") if re.search(r":\d+$", ref) else (ref, "", "")
    parent = state.db.one("SELECT * FROM jobs WHERE id = ? OR model_output_name = ?", (name, name))
    if parent is None:
        raise InvalidRequest(
            f"No fine-tune job '{name}' to continue from. Use a job id, optionally ':<step>'.",
            param="from_checkpoint",
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
        raise InvalidRequest(
            f"Job {parent['id']} has no checkpoint{' at step ' + step_text if step_text else ''}.{hint}",
            param="from_checkpoint",
        )
    spec = json.loads(parent["spec"])
    wanted = "adapter" if spec["training_type"] == "lora" else "model"
    best = next((r for r in rows if r["checkpoint"] == wanted), rows[0])
    return parent, best


def _check_range(param: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidRequest(
            f"{param}={value} is outside the allowed range for this model: {low} to {high}.", param=param
        )


def _output_name(state: EngineState, from_hf_model: str, suffix: str | None, job_id: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", from_hf_model.rstrip("/").split("/")[-1]).strip("-") or "model"
    parts = [base]
    if suffix:
        parts.append(re.sub(r"[^A-Za-z0-9._-]+", "-", suffix).strip("-"))
    parts.append(job_id.removeprefix("ft-")[:8])
    return f"{state.project['slug']}/{'-'.join(p for p in parts if p)}"


def _echo(
    req: CreateFineTune, spec: TrainSpec, base: _Base, training: Any, validation: Any
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
        "model": base.model,
        "from_hf_model": base.from_hf_model,
        "hf_model_revision": base.revision,
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
