"""Launching a fine-tune: the pre-flight that builds a plan (here), and the create that sends it at most once (create.py).

    LaunchArgs ──plan_launch()──► LaunchPlan ──(confirmed)──► launch() ──► FinetuneResponse
                 inspect the model (incompatible: refuse with the findings)
                 the base: given, or the recommend rule's pick (said so)
                 the base's limits: every hyperparameter checked before anything is sent
                 the data: a local file checked and hashed here, NOT uploaded; a file id's status checked
                 the price: a local file's tokens × the packaged rate (offline), else the backend's
                 estimate; the spending limits applied
                                                        launch(): upload the local files (the bytes the plan
                                                        was bound to), ask the backend's estimate, and stop if
                                                        it is above a limit or >10% above the confirmed price

Nothing leaves the machine before the user confirms: a refused or declined plan uploaded nothing. A local file
appears in the planned request as ``sha256:<hash>`` (what the fingerprint and the confirmation bind); once a
confirmed create uploaded it, the ledger remembers its id and the next plan for the same bytes asks the
backend for its price instead. A plan is a pure function of the arguments, the files and the backend's
answers, so building it twice gives the same ``plan_hash``: what a confirmation token is bound to. ``launch``
records the request in the ledger before it is sent; an answer lost in transit is recovered from the
backend's job list before anything is re-created (``byom.confirmed.create_or_find``).

The data files' plan and upload are ``files.py``; the price before the upload is ``pricing.py``; carrying out a
confirmed plan (``launch``: upload, hold the price, create at most once) is ``create.py``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from byom.backend import Backend
from byom.catalog import LOCAL_TEMPLATE, Catalog, recommend_for_report
from byom.confirmed import ConfirmedPlan, check_spending
from byom.data import SeqLength, decide_max_seq_length
from byom.errors import PreflightError, TogetherAPIError
from byom.hub import InspectReport
from byom.jobs.duration import Duration, plan_duration
from byom.jobs.files import FilePlan, file_plan
from byom.jobs.pricing import PricePlan, price_plan
from byom.jobs.schedule import Schedule, batch_of, plan_schedule, schedule_warnings
from byom.jobs.settings import (
    DPO_BETA,
    Setting,
    default_learning_rate,
    dpo_rate_warning,
    lora_rank,
    plan_settings,
    rank_warning,
)
from byom.jobs.tokens import count_plan_tokens
from byom.ledger import Ledger, SpendingLimits, fingerprint

if TYPE_CHECKING:
    from byom.hub import HubInspector  # huggingface_hub loads on the first inspection, not at start-up
    from byom.together import FinetuneRequest

__all__ = [
    "Continuation",
    "FilePlan",
    "LaunchArgs",
    "LaunchPlan",
    "PricePlan",
    "plan_launch",
]

log = logging.getLogger(__name__)

# A job created from the same request within this window is the same job (unless force_new).
SAME_REQUEST_S = 86_400.0


class LaunchArgs(BaseModel):
    """``create_finetune``'s arguments, as the model gave them (``confirm_token`` excluded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The bounds are the tool's (tools/jobs.py); tests/tools/test_confirmed_arguments.py holds them equal.
    from_hf_model: str | None = Field(None, max_length=512)
    training_file: str = Field(min_length=1, max_length=4096)
    model: str | None = Field(None, max_length=256)
    validation_file: str | None = Field(None, max_length=4096)
    training_type: Literal["lora", "full"] = "lora"
    method: Literal["sft", "dpo"] = "sft"
    n_epochs: int = Field(1, ge=1, le=100)
    learning_rate: float | None = Field(None, gt=0, le=1)
    batch_size: int | Literal["max"] = "max"
    lora_r: int | None = Field(None, ge=1, le=1024)
    lora_alpha: int | None = Field(None, ge=1, le=4096)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    lora_trainable_modules: str = Field("all-linear", max_length=500)
    max_seq_length: int | None = Field(None, ge=1, le=1_048_576)
    train_on_inputs: bool | Literal["auto"] | None = None
    dpo_beta: float | None = Field(None, gt=0, le=100)
    n_checkpoints: int = Field(1, ge=1, le=100)
    n_evals: int = Field(0, ge=0, le=100)
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    lr_scheduler: Literal["cosine", "linear"] = "cosine"
    weight_decay: float = Field(0.0, ge=0, le=10)
    max_grad_norm: float = Field(1.0, ge=0, le=1000)
    suffix: str | None = Field(None, max_length=40, pattern=r"^[A-Za-z0-9._-]*$")
    hf_model_revision: str | None = Field(None, max_length=256)
    hf_output_repo_name: str | None = Field(None, max_length=256)
    from_checkpoint: str | None = Field(None, max_length=256)
    wandb_project_name: str | None = Field(None, max_length=128)
    force_new: bool = False
    dry_run: bool = False


class Continuation(BaseModel):
    """A job continued from another's checkpoint: what it starts from, priced by the parent's base."""

    job_id: str
    step: int | None = Field(description="The step it starts from; None when the parent does not say.")
    step_given: bool = Field(description="True: 'ft-…:step' named the step; False: the parent's output.")
    from_hf_model: str | None = Field(None, description="The parent's model (its tokenizer counts the data).")
    base: str | None = Field(None, description="The parent's Together base: the rate it is priced at.")

    def render(self, n_epochs: int) -> str:
        start = f"step {self.step}" if self.step is not None else "its last checkpoint"
        what = "that checkpoint" if self.step_given else "its output"
        return f"Continue {self.job_id} from {start} ({what}), {n_epochs} more epoch(s)"


class LaunchPlan(ConfirmedPlan):
    """Everything the job will be, before it is created: what a confirmation confirms."""

    backend: Literal["local", "together"]
    costs_money: bool
    from_hf_model: str | None
    verdict: str | None = Field(description="inspect_hf_model's verdict for from_hf_model.")
    warnings: list[str] = Field(default_factory=list)
    model: str = Field(description="The Together base model (template) the job is priced and limited by.")
    max_seq_length: int | None = Field(
        None, description="The length rows are cut at: min(requested, the model's context, the base's limit)."
    )
    max_seq_length_basis: str | None = None
    model_source: Literal["given", "recommended", "checkpoint", "local"]
    model_reason: str | None = None
    training_file: FilePlan
    validation_file: FilePlan | None = None
    request: dict[str, Any] = Field(
        description="The create request as it will be sent, secrets removed; a local file appears as "
        "sha256:<hash> until it is uploaded."
    )
    learning_rate_defaulted: bool = Field(
        False, description="The learning rate is the training type's default."
    )
    settings: list[Setting] = Field(
        default_factory=list, description="Every method parameter: value and source (you, default, derived)."
    )
    schedule: Schedule | None = Field(
        None, description="Examples → sequences → optimizer steps; None when the tokens are not counted here."
    )
    continues: Continuation | None = None
    duration: Duration | None = None
    price: PricePlan
    limits: SpendingLimits = Field(description="The spending limits this plan is held to.")
    spending: list[str] = Field(
        default_factory=list, description="The server's spending limits as they apply."
    )
    existing_job_id: str | None = Field(
        None,
        description="A job created from this same request in the last 24 h: it is returned, not re-created.",
    )

    # The request as sent, secrets included (the plan's fields are what the user sees): set by plan_launch.
    _sent: FinetuneRequest | None = PrivateAttr(None)

    @property
    def typed_request(self) -> FinetuneRequest:
        """The public request, typed (what the summary reads)."""
        from byom.together import FinetuneRequest

        return FinetuneRequest.model_validate(self.request)

    @property
    def sent(self) -> FinetuneRequest:
        """The request to send, secrets included; only a plan built by ``plan_launch`` has one."""
        if self._sent is None:
            raise PreflightError("This plan was not built by plan_launch: call create_finetune again.")
        return self._sent

    @property
    def bound_usd(self) -> float | None:
        return self.price.usd

    @property
    def needs_confirmation(self) -> bool:
        return self.existing_job_id is None

    def describe(self) -> str:
        if self.existing_job_id is not None:  # the same request ran in the last 24 h: it is not created again
            end = (
                f"This exact request already created job {self.existing_job_id} (in the last 24 h): calling "
                f"without dry_run returns that job, creates nothing and asks nothing. job_status(job_id="
                f"{self.existing_job_id!r}) follows it; force_new=true trains another."
            )
        elif self.dry_run:
            end = "Dry run: nothing was created, uploaded or asked; without dry_run the user confirms this first."
        else:
            end = "Start this fine-tune?"
        return f"{self.details()}\n{end}"

    def details(self) -> str:
        """The plan in words, without its question: what a started job reports."""
        return _summary(self)


async def plan_launch(
    args: LaunchArgs,
    *,
    backend: Backend,
    inspector: HubInspector,
    catalog: Catalog,
    ledger: Ledger,
    spend_limits: SpendingLimits | None = None,
) -> LaunchPlan:
    """The pre-flight: every check that can fail before money is spent, then the plan to confirm.

    Nothing is uploaded: a local file is checked and priced here. ``spend_limits``: what the plan is held to (by
    default the user's own)."""
    from byom.together import check_request, finetune_request  # the request bodies load on the first plan

    settings = backend.settings
    if bool(args.from_hf_model) == bool(args.from_checkpoint):
        raise PreflightError(
            "Give from_hf_model (a new fine-tune of your Hugging Face model) or from_checkpoint (continue a "
            "previous job), not both and not neither."
        )
    if args.wandb_project_name and settings.wandb_api_key is None:
        raise PreflightError(
            "wandb_project_name needs WANDB_API_KEY in the server's environment (never in chat): set it in the MCP "
            "host's config and restart the server, or leave wandb_project_name out."
        )

    report: InspectReport | None = None
    warnings: list[str] = []
    if args.from_hf_model:
        report = await anyio.to_thread.run_sync(inspector.inspect, args.from_hf_model, args.hf_model_revision)
        if report.verdict == "incompatible":
            fails = [
                f"- {f.check}: {f.evidence}" + (f" Fix: {f.fix}" if f.fix else "")
                for f in report.findings
                if f.status == "fail"
            ]
            raise PreflightError(
                f"{args.from_hf_model} cannot be fine-tuned with BYOM:\n"
                + "\n".join(fails)
                + "\nNothing was uploaded or created. Fix these, or pick another model (inspect_hf_model)."
            )
        warnings = [f"{f.check}: {f.evidence}" for f in report.findings if f.status == "warn"]

    model, source, reason = _choose_base(args, report, catalog, backend)
    client = backend.client
    continues = await _continuation(backend, args.from_checkpoint) if args.from_checkpoint else None
    limits = await client.model_limits(model)
    seq = _seq_length(
        args, report, limits.max_seq_length_dpo if args.method == "dpo" else limits.max_seq_length_sft
    )
    if model == LOCAL_TEMPLATE:  # no Together base: the cap is the local engine's own (trials D, E, G asked)
        seq = replace(seq, limit_name="the local engine's limit")
    hf_token = settings.hf_token if report is not None and (report.gated or report.private) else None
    if spend_limits is None:
        spend_limits = SpendingLimits.of(settings.max_usd, settings.max_usd_per_day, by_token=False)
    training = await file_plan(args.training_file, backend, ledger, "training", args.method)
    validation = (
        await file_plan(args.validation_file, backend, ledger, "validation", args.method)
        if args.validation_file
        else None
    )
    derived: dict[str, str] = {}
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate, derived["learning_rate"] = default_learning_rate(args.method, args.training_type)
    hidden = report.hidden_size if report is not None else None
    rank = args.lora_r
    if rank is None and args.training_type == "lora" and not args.from_checkpoint:
        rank, derived["lora_r"] = lora_rank(hidden, limits)
        if rank is not None and args.lora_alpha is None:
            derived["lora_alpha"] = "default: 2 × rank"
    dpo_beta = args.dpo_beta
    if args.method == "dpo" and dpo_beta is None:
        dpo_beta, derived["dpo_beta"] = DPO_BETA, "default: TRL's DPOConfig"
    if args.max_seq_length is None:
        derived["max_seq_length"] = "derived: " + (
            f"the model's context and {seq.limit_name}" if args.from_hf_model else seq.limit_name
        )
    warnings += [
        w for w in (rank_warning(args.lora_r, hidden), dpo_rate_warning(args.method, learning_rate)) if w
    ]
    request = finetune_request(
        training_file=training.planned_id,
        validation_file=validation.planned_id if validation else None,
        model=None if args.from_checkpoint else model,
        limits=limits,
        n_epochs=args.n_epochs,
        learning_rate=learning_rate,
        batch_size=args.batch_size,
        lora=args.training_type == "lora",
        lora_r=rank,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        lora_trainable_modules=args.lora_trainable_modules,
        max_seq_length=_sent_seq_length(args, seq),
        train_on_inputs=args.train_on_inputs,
        training_method=args.method,
        dpo_beta=dpo_beta,
        n_checkpoints=args.n_checkpoints,
        n_evals=args.n_evals,
        warmup_ratio=args.warmup_ratio,
        lr_scheduler_type=args.lr_scheduler,
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm,
        suffix=args.suffix,
        from_checkpoint=args.from_checkpoint,
        from_hf_model=args.from_hf_model,
        hf_model_revision=args.hf_model_revision,
        hf_output_repo_name=args.hf_output_repo_name,
        hf_api_token=hf_token,
        wandb_api_key=settings.wandb_api_key if args.wandb_project_name else None,
        wandb_project_name=args.wandb_project_name,
    )
    problems = check_request(request, limits)
    if problems:
        raise PreflightError(
            f"These settings do not fit the limits of base {model}:\n- "
            + "\n- ".join(problems)
            + "\nNothing was created. Change them and call create_finetune again."
        )

    # A continued job trains the parent's model and is priced by the parent's base (Together's rule).
    tokenizer = args.from_hf_model or (continues.from_hf_model if continues else None)
    price_base = continues.base if continues is not None and continues.base else model
    price = await price_plan(
        backend, args, request, price_base, catalog, training, validation, hf_token, seq.value, tokenizer
    )
    if price.tokens is None and tokenizer and training.path is not None:
        path, source_model = training.path, tokenizer
        price.tokens = await anyio.to_thread.run_sync(
            lambda: count_plan_tokens(
                source_model,
                path,
                max_seq_length=seq.value,
                n_epochs=args.n_epochs,
                sha256=training.sha256 or "",
            )
        )
    batch, smallest = batch_of(request, limits)
    schedule = None
    if price.tokens is not None and batch is not None:
        schedule = plan_schedule(
            price.tokens, request, batch, limits.default_gradient_accumulation_steps or 1
        )
        warnings += schedule_warnings(schedule, smallest)
    batch_shown = f"{request.batch_size} → {batch}" if request.batch_size in (None, "max") else str(batch)
    if request.batch_size in (None, "max"):
        derived["batch_size"] = (
            "derived: the base's largest" if source != "local" else "derived: this engine's largest"
        )
    method_settings = plan_settings(
        args, request, batch=batch_shown, max_seq_length=seq.value, derived=derived
    )
    duration = await plan_duration(
        backend,
        tokenizer,
        price.tokens.total if price.tokens is not None else None,
        lora=args.training_type == "lora",
    )
    spending = check_spending(
        backend,
        ledger,
        price.usd,
        spend_limits,
        what="this job",
        smaller=SMALLER,
        why_unknown=price.basis,
        unknown_checked_later=price.source == "offline",
    )
    print_ = fingerprint(backend.base_url, request.public())
    existing = None if args.force_new else ledger.recent("finetune", print_, within_s=SAME_REQUEST_S)
    plan = LaunchPlan(
        backend=backend.kind,
        backend_url=backend.base_url,
        costs_money=backend.costs_money,
        from_hf_model=args.from_hf_model,
        verdict=report.verdict if report is not None else None,
        warnings=warnings,
        model=model,
        max_seq_length=seq.value if args.from_hf_model else args.max_seq_length,
        max_seq_length_basis=seq.explain() if args.from_hf_model else None,
        model_source=source,
        model_reason=reason,
        training_file=training,
        validation_file=validation,
        request=request.public(),
        learning_rate_defaulted=args.learning_rate is None,
        settings=method_settings,
        schedule=schedule,
        continues=continues,
        duration=duration,
        price=price,
        limits=spend_limits,
        spending=spending,
        existing_job_id=existing.resource_id
        if existing is not None and existing.state == "created"
        else None,
        fingerprint=print_,
        dry_run=args.dry_run,
    )
    plan._sent = request
    return plan


async def _continuation(backend: Backend, from_checkpoint: str) -> Continuation:
    """What a continued job starts from: the parent job, and the step (given, or the parent's last)."""
    job_id, _, step = from_checkpoint.partition(":")
    try:
        parent = await backend.client.retrieve_finetune(job_id)
    except TogetherAPIError:
        # An output model name, say: the backend resolves it at create; the plan says less.
        return Continuation(
            job_id=job_id, step=int(step) if step.isdigit() else None, step_given=step.isdigit()
        )
    return Continuation(
        job_id=parent.id,
        step=int(step) if step.isdigit() else parent.steps_completed,
        step_given=step.isdigit(),
        from_hf_model=parent.from_hf_model,
        base=parent.model,
    )


def _seq_length(args: LaunchArgs, report: InspectReport | None, base_limit: int | None) -> SeqLength:
    """The one rule (``decide_max_seq_length``) with the context inspect_hf_model read from the model's config;
    a requested length over that context is refused here, as the engine refuses it, before anything is created."""
    seq = decide_max_seq_length(
        args.max_seq_length, context=report.max_context if report else None, base_limit=base_limit
    )
    if seq.over_context:
        raise PreflightError(
            f"max_seq_length={args.max_seq_length} is over the context of {args.from_hf_model} ({seq.context:,} "
            f"tokens, from its config.json): rows would be cut at {seq.context:,} anyway. Set max_seq_length ≤ "
            f"{seq.context}, or leave it out (the plan takes the model's context and the base's limit)."
        )
    return seq


def _sent_seq_length(args: LaunchArgs, seq: SeqLength) -> int | None:
    """What the request carries: the user's value; else the decided one when the model's context is shorter than
    the base's limit (so the backend trains at the length the check and the plan counted); else the default."""
    if args.max_seq_length is not None:
        return args.max_seq_length
    if seq.context is not None and seq.base_limit is not None and seq.context < seq.base_limit:
        return seq.value
    return None


def _choose_base(
    args: LaunchArgs, report: InspectReport | None, catalog: Catalog, backend: Backend
) -> tuple[str, Literal["given", "recommended", "checkpoint", "local"], str | None]:
    if args.from_checkpoint:
        # Limits of a continued job are the parent's (the SDK asks for the job id before the ':').
        return args.from_checkpoint.split(":", 1)[0], "checkpoint", None
    if args.model:
        return args.model, "given", None
    if backend.kind == "local":
        # A Together base would impose its batch and sequence limits on a model it has nothing to do with.
        return (
            LOCAL_TEMPLATE,
            "local",
            _LOCAL_REASON,
        )
    assert report is not None
    rec = recommend_for_report(
        report,
        catalog,
        training_type=args.training_type,
        max_seq_length=args.max_seq_length,
        method=args.method,
    )
    if rec.base_model is None:
        raise PreflightError(
            f"No Together base model fits {args.from_hf_model}: "
            + "; ".join(rec.warnings or ["no family match"])
            + ". Pass model= yourself (see recommend_base for the candidates)."
        )
    return rec.base_model, "recommended", rec.explanation or None


_LOCAL_REASON = (
    "The local engine trains your model as it is: its context bounds the sequence length, this machine the batch; "
    "no Together base's limits apply."
)
SMALLER = "Use fewer epochs, a shorter max_seq_length or less data"


def _summary(plan: LaunchPlan) -> str:
    req = plan.typed_request
    tt = req.training_type
    kind = tt.type if tt is not None else "Lora"
    how = f"with {kind} ({req.training_method.method})"
    if plan.continues is not None:
        head = f"{plan.continues.render(req.n_epochs)}, {how}."
    elif plan.model_source == "local":
        head = f"Fine-tune {plan.from_hf_model} {how}, {req.n_epochs} epoch(s), on the local engine's own template."
    else:
        which = "the recommended base" if plan.model_source == "recommended" else "base"
        head = f"Fine-tune {plan.from_hf_model} on {plan.model} ({which}) {how}, {req.n_epochs} epoch(s)."
    lines = [
        head,
        f"Data: {plan.training_file.filename or plan.training_file.file_id} ({_where(plan.training_file)}"
        + (f", {plan.training_file.rows} rows" if plan.training_file.rows else "")
        + ")"
        + (
            f"; validation {plan.validation_file.filename} ({_where(plan.validation_file)})"
            if plan.validation_file
            else ""
        )
        + ".",
        f"Runs on {plan.backend_url} ({'Together AI cloud' if plan.costs_money else 'this machine'}).",
    ]
    if plan.schedule is not None:
        lines.append(plan.schedule.render())
    else:
        lines.append(
            "Steps: not known before the upload (the data's tokens are not counted on this machine); job_status "
            "shows them once the job runs."
        )
    # Whatever else the call changes is said too: a confirmation covers what the user was shown, nothing more.
    lines.append("Settings: " + "; ".join(s.render() for s in plan.settings) + ".")
    details = [
        f"revision {req.hf_model_revision}" if req.hf_model_revision else None,
        f"suffix {req.suffix}" if req.suffix else None,
    ]
    if any(details):
        lines.append("Also: " + ", ".join(d for d in details if d) + ".")
    if req.hf_output_repo_name:
        lines.append(f"Pushes the trained weights to the Hugging Face repo {req.hf_output_repo_name}.")
    if req.wandb_project_name:
        lines.append(f"Logs the run to the Weights & Biases project {req.wandb_project_name}.")
    if plan.max_seq_length_basis:
        lines.append(plan.max_seq_length_basis)
    if plan.model_reason and plan.model_source == "local":
        lines.append(plan.model_reason)
    if plan.costs_money:
        cost = f"${plan.price.usd:,.2f}" if plan.price.usd is not None else "an unknown amount"
        lines.append(f"Estimated cost: {cost}. {plan.price.basis}")
    else:
        lines.append(plan.price.basis)
    if plan.price.tokens is not None:
        t = plan.price.tokens
        lines.append(
            f"Tokens: {t.per_epoch:,} per epoch ({t.trained_per_epoch:,} of them trained) × {req.n_epochs} "
            f"epoch(s) = {t.total:,}, counted with your model's tokenizer at max_seq_length {t.max_seq_length:,} as "
            "check_training_data counts them"
            + (f" (estimated from 1 row in every {t.sampled_every})" if t.sampled_every > 1 else "")
            + "; the job's token_count will be this total"
            + (
                f". The backend's estimate says {plan.price.train_tokens:,.0f} (its own count"
                + ("; Together bills by its count of tokens processed)" if plan.costs_money else ")")
                if plan.price.train_tokens and round(plan.price.train_tokens) != t.total
                else ""
            )
            + "."
        )
    if plan.duration is not None:
        lines.append(plan.duration.basis)
    lines.extend(plan.spending)
    if plan.warnings:
        lines.append("Warnings:\n" + "\n".join(f"- {w[:300]}" for w in plan.warnings[:8]))
    return "\n".join(lines)


def _where(file: FilePlan) -> str:
    return file.file_id if file.file_id is not None else "uploaded only once you confirm"
