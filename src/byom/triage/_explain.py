"""Explain a failure: pasted text (traceback, log tail, API error body) or a job with its events."""

from __future__ import annotations

import re

from byom.catalog import Catalog
from byom.config import Settings, engine_key_path, load_settings
from byom.errors import ConfigError
from byom.hub import InspectReport
from byom.together import FinetuneEvent, FinetuneResponse
from byom.triage._catalog import Pattern, PatternCatalog, Stage, load_patterns
from byom.triage._corrections import corrected_call, data_lines
from byom.triage._models import CorrectedCall, Explanation, JobContext
from byom.triage._root import Block, Root, find_root
from byom.triage._stages import EVENT_STAGES
from byom.untrusted import EVIDENCE_CHARS, quote

__all__ = ["explain_job", "explain_text"]

_STAGE_IN_TEXT = re.compile(
    r"(?:failed|failure) (?:during|in) (?:the )?(download|initiali[sz]ation|training|saving|upload)",
    re.IGNORECASE,
)
_ROUTE_IN_TEXT = re.compile(
    r"/v1/(?:chat/)?completions\b|\bchat\.completions\.create\b|\bPOST \S*/v1/fine-tunes →",
    re.IGNORECASE,
)
_STAGES: dict[str, Stage] = {
    "download": "download",
    "initialization": "initialization",
    "initialisation": "initialization",
    "training": "training",
    "saving": "saving",
    "upload": "upload",
}
# When nothing is known, nothing is promised: no retry (whether one helps is unknown), no job id unless there
# is a job ({job} is filled in by _filled).
_GENERIC_FIXES = [
    "Read the evidence: it is the innermost error the text shows; search its exact wording.",
    "Check the data with check_training_data and the model with inspect_hf_model: most failures start there.",
    (
        "If it names nothing of yours (data, model, settings), report it to whoever ran it (Together support, "
        "or the library in the traceback) with {job}."
    ),
]


def _filled(fix: str, ctx: JobContext) -> str:
    """A catalogue fix with its placeholders filled: {job} names the job only when there is one."""
    if "{job}" in fix:
        fix = fix.replace("{job}", f"the job id {ctx.job_id}" if ctx.job_id else "the full error text")
    if "{engine_key_file}" in fix:
        fix = fix.replace("{engine_key_file}", _engine_key_file())
    return fix


def _engine_key_file() -> str:
    """Where byom reads the engine's key (BYOM_DATA_DIR/engine/api_key), as this environment sets it."""
    try:
        return str(engine_key_path(load_settings()))
    except ConfigError:  # another setting is malformed: still name the file, by its default place
        return str(engine_key_path(Settings()))


def explain_text(
    text: str, *, context: JobContext | None = None, patterns: PatternCatalog | None = None
) -> Explanation:
    """Classify an error text by the catalogue; an unmatched one is ``unknown`` with its root line.

    In order: the specific patterns (a library's or the engine's own message), then the stack hints (what
    the traceback's exception types and modules show), then byom's broad vocabulary (its tools' and
    engine's messages, which carry no traceback), else ``unknown``.
    """
    ctx = context or JobContext()
    catalog = patterns or load_patterns()
    root = find_root(text)
    stage = ctx.stage or _stage_in(text)
    found = _first_match(root, [p for p in catalog.patterns if not p.broad])
    if found is not None:
        return _explained(*found, ctx, stage, text)
    line = root.line
    hint = _hint(root, catalog.hints)
    if hint is not None:
        return Explanation(
            category=hint.category,
            docs_class=hint.docs_class,
            stage=stage or hint.stage,
            cause=hint.cause,
            evidence=quote(line, EVIDENCE_CHARS) if line else None,
            pattern_id=hint.id,
            fixes=[_filled(fix, ctx) for fix in hint.fixes],
            retryable=hint.retryable,
            confidence="inferred from the stack",
        )
    found = _first_match(root, [p for p in catalog.patterns if p.broad])
    if found is not None:
        return _explained(*found, ctx, stage, text)
    return Explanation(
        category="unknown",
        stage=stage,
        cause="No known failure pattern matches this error; the root line is quoted as evidence.",
        evidence=quote(line, EVIDENCE_CHARS) if line else None,
        fixes=[_filled(fix, ctx) for fix in _GENERIC_FIXES],
        retryable=False,
        confidence="unknown",
    )


def _hint(root: Root, hints: list[Pattern]) -> Pattern | None:
    """The first hint whose regex finds the innermost exception type or stack frame (newest first)."""
    for entry in reversed(root.stack):
        for hint in hints:
            if hint.search(entry):
                return hint
    return None


def _first_match(root: Root, patterns: list[Pattern]) -> tuple[Pattern, Block, str] | None:
    """The first pattern (catalogue order: specific first) found in the fatal chain, else in the error lines.

    A fatal chain with a real (non-wrapper) exception that no pattern knows stays unknown: an older warning
    elsewhere in the log must not be passed off as the cause.
    """
    for pattern in patterns:
        for block in root.chain:
            hit = pattern.search(block.text)
            if hit:
                return pattern, block, _line_at(block.text, hit.start())
    if any(not b.wrapper for b in root.chain):
        return None
    for block in root.error_lines:
        for pattern in patterns:
            if pattern.search(block.text):
                return pattern, block, block.text
    return None


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)]


def _stage_in(text: str) -> Stage | None:
    tail = text[-200_000:]
    found = _STAGE_IN_TEXT.search(tail)
    if found:
        return _STAGES.get(found.group(1).lower())
    # An API error names its route (byom's own: "POST /v1/fine-tunes → 401: …"; a snippet's: the URL it called).
    route = _ROUTE_IN_TEXT.search(tail)
    if route:
        return "calling the model" if "completions" in route.group(0).lower() else "create"
    return None


def _explained(
    pattern: Pattern, block: Block, matched_line: str, ctx: JobContext, stage: Stage | None, text: str
) -> Explanation:
    first = block.first_line
    shown = first if matched_line == first else f"{first}\n{matched_line}"
    fixes = [_filled(fix, ctx) for fix in pattern.fixes]
    lines: list[int] = []
    if pattern.correction == "fix_data_lines":
        lines = data_lines(block.text) or data_lines(text[-200_000:])
        if lines:
            named = ", ".join(str(n) for n in lines[:10])
            fixes.insert(
                0, f"Fix line{'s' if len(lines) > 1 else ''} {named} of the data file, then upload it again."
            )
    call = corrected_call(
        pattern.correction, ctx, block.text if pattern.correction != "reduce_memory" else text
    )
    if call is not None:
        fixes.insert(0, _call_fix(call))
    return Explanation(
        category=pattern.category,
        docs_class=pattern.docs_class,
        stage=stage or pattern.stage,
        cause=pattern.cause,
        evidence=quote(shown, EVIDENCE_CHARS),
        pattern_id=pattern.id,
        fixes=fixes,
        retryable=pattern.retryable,
        confidence="matched",
        corrected_call=call,
        data_lines=lines,
    )


def _call_fix(call: CorrectedCall) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in call.changes.items())
    return f"Run create_finetune again with {args}: {call.reason}"


# ---- jobs ------------------------------------------------------------------------------------------

# Events after which a failure is "right after data download": Together's troubleshooting says user errors
# there are data validation.
_DATA_EVENTS = {
    "model_download_complete",
    "training_data_downloading",
    "training_data_download_complete",
    "validation_data_downloading",
    "validation_data_download_complete",
}
_TRAINING_EVENTS = {
    "training_start",
    "epoch_complete",
    "checkpoint_save",
    "eval_complete",
    "training_complete",
}
_JOB_ID = re.compile(r"\bft-[0-9a-f][0-9a-f-]{6,63}\b", re.IGNORECASE)


def explain_job(
    job: FinetuneResponse,
    events: list[FinetuneEvent],
    *,
    report: InspectReport | None = None,
    catalog: Catalog | None = None,
    gpu_memory_gb: float | None = None,
    patterns: PatternCatalog | None = None,
) -> Explanation:
    """Explain a job from its error, its events (oldest first) and its status; ``report`` and ``catalog``
    let the explainer compute a corrected call (memory estimate, base-selection rule)."""
    ordered = sorted(events, key=lambda e: e.created_at.timestamp() if e.created_at else 0.0)
    ctx = _context(job, ordered, report, catalog, gpu_memory_gb)
    texts = []
    if job.error is not None and job.error.message:
        texts.append(job.error.message)
    texts += [e.message for e in reversed(ordered) if e.message and e.severity == "error"]
    unknown: Explanation | None = None
    for text in texts:
        found = explain_text(text, context=ctx, patterns=patterns)
        if found.confidence == "matched":
            return found.model_copy(update={"job_id": job.id, "status": job.status})
        unknown = unknown or found
    inferred = _from_status(job, ordered, ctx)
    if inferred is not None:
        return inferred.model_copy(update={"job_id": job.id, "status": job.status})
    if unknown is None:
        unknown = Explanation(
            category="unknown",
            stage=ctx.stage,
            cause=f"The job is {job.status or 'in an unknown state'} and its events name no error.",
            fixes=[_filled(fix, ctx) for fix in _GENERIC_FIXES],
            retryable=False,
            confidence="unknown",
        )
    return unknown.model_copy(update={"job_id": job.id, "status": job.status})


def _context(
    job: FinetuneResponse,
    events: list[FinetuneEvent],
    report: InspectReport | None,
    catalog: Catalog | None,
    gpu_memory_gb: float | None,
) -> JobContext:
    method = (job.training_method.method or "").lower() if job.training_method else ""
    train_on_inputs = job.training_method.train_on_inputs if job.training_method else job.train_on_inputs
    return JobContext(
        job_id=job.id,
        model=job.model,
        from_hf_model=job.from_hf_model,
        training_type=None if job.is_lora is None else ("lora" if job.is_lora else "full"),
        method="dpo" if method == "dpo" else "sft" if method == "sft" else None,
        batch_size=job.batch_size if isinstance(job.batch_size, int) else None,
        max_seq_length=job.max_seq_length,
        learning_rate=job.learning_rate,
        train_on_inputs=train_on_inputs if train_on_inputs in (True, False, "auto") else None,
        lora_trainable_modules=job.training_type.lora_trainable_modules if job.training_type else None,
        gpu_memory_gb=gpu_memory_gb,
        stage=_job_stage(job, events),
        report=report,
        catalog=catalog,
    )


def _job_stage(job: FinetuneResponse, events: list[FinetuneEvent]) -> Stage | None:
    for named in (job.error.stage if job.error else None, *(e.stage for e in reversed(events))):
        if named and named.lower() in _STAGES:
            return _STAGES[named.lower()]
    progress = [e.type for e in events if e.type in EVENT_STAGES]
    return EVENT_STAGES[progress[-1]] if progress else None


def _from_status(job: FinetuneResponse, events: list[FinetuneEvent], ctx: JobContext) -> Explanation | None:
    """What Together's statuses and event types mean when no message matched (troubleshooting, ref §2.9)."""
    types = [e.type or "" for e in events]
    progress = [t for t in types if t in EVENT_STAGES]
    trained = any(t in _TRAINING_EVENTS for t in types)
    status = job.status or ""

    def inferred(**fields: object) -> Explanation:
        return _inferred(ctx, **fields)

    if "billing_limit" in types:
        return inferred(
            category="billing",
            cause="The job stopped at the account's billing limit (a billing_limit event).",
            fixes=[
                (
                    "Add credit or raise the spending limit at api.together.ai/settings/billing, then start the "
                    "job again (from_checkpoint continues from its last checkpoint)."
                ),
                (
                    "Estimate the price first (create_finetune shows it) and shrink the job: fewer epochs, a "
                    "smaller training file."
                ),
            ],
            retryable=False,
        )
    if status == "cancelled" or "cancel_requested" in types:
        if "cancel_requested" in types or status == "cancel_requested":
            return inferred(
                category="unknown",
                cause="The job was cancelled on request (a cancel_requested event), not by a failure.",
                fixes=[
                    "Start it again if the cancel was a mistake; from_checkpoint resumes a saved checkpoint."
                ],
                retryable=True,
            )
        wandb = bool(job.wandb_project_name or job.wandb_name or job.wandb_url)
        balance = "Add funds or raise the spending limit at api.together.ai/settings/billing; then create the job again."
        key = "Re-issue the Weights & Biases key (wandb_api_key) or create the job without W&B logging."
        if not trained:
            return inferred(
                category="billing",
                stage=ctx.stage or "create",
                cause="A job cancelled right after creation usually failed Together's balance check, or its "
                "W&B key was invalid.",
                fixes=[key, balance] if wandb else [balance, key],
                retryable=False,
            )
        return None
    if status == "user_error" or "job_user_error" in types:
        if progress and progress[-1] in _DATA_EVENTS and not trained:
            return _data_validation(ctx, "Together marked it a user error right after the data download")
        return inferred(
            category="unknown",
            cause="Together marked the job a user error: one of its inputs (data or hyperparameters) was rejected.",
            fixes=[
                "Check the training file with check_training_data and fix the lines it names.",
                "Compare the hyperparameters with the base's limits (batch size, max_seq_length, learning rate).",
            ],
            retryable=False,
        )
    if status == "error":
        if "job_restarted" in types or "refund" in types:
            restarted = next(
                (e.message for e in reversed(events) if e.type == "job_restarted" and e.message), ""
            )
            new_job = _JOB_ID.search(restarted)
            follow = (
                f"Follow the new job {new_job.group(0)}."
                if new_job
                else "The new job id is in the event log."
            )
            return inferred(
                category="internal",
                docs_class="Internal error",
                cause="Together restarted the job after an internal error (a job_restarted or refund event).",
                fixes=[follow, "If it fails again, contact support with both job ids."],
                retryable=True,
            )
        if progress and progress[-1] in _DATA_EVENTS and not trained:
            return _data_validation(ctx, "The job failed right after its data download")
    return None


def _inferred(ctx: JobContext, **fields: object) -> Explanation:
    return Explanation.model_validate({"confidence": "inferred from status", "stage": ctx.stage, **fields})


def _data_validation(ctx: JobContext, what: str) -> Explanation:
    return _inferred(
        ctx,
        category="data_format",
        stage="initialization",
        cause=f"{what}, which is usually the data failing validation.",
        fixes=[
            (
                "Check the training file with check_training_data (or `byom check-data FILE`) and fix the lines "
                "it names, then upload it again."
            ),
            (
                "Make sure the format matches the method: preference data for DPO, conversation, instruction or "
                "text for SFT."
            ),
        ],
        retryable=False,
    )
