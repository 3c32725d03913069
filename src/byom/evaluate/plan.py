"""What ``evaluate_model`` will do, decided before anything runs or costs.

    arguments ─► the fine-tune (a job id: its output model, its base as the baseline, its validation file)
              ─► the data (a local file checked and hashed here, uploaded only once confirmed; or a file id)
              ─► the judge (compare/score: the one asked for, else a sensible one the backend allows)
              ─► the price (Together compare/score: an upper bound from the serverless rates; the engine: free)
              ─► an EvaluatePlan: the request it will send, to confirm where it costs money

A name (not a job id) is evaluated as the backend serves it: a model in the evaluation model list is
``serverless``, any other name ``dedicated`` (an endpoint). Reading an existing evaluation (``model="eval-…"``)
needs no plan beyond that.
"""

from __future__ import annotations

from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from byom.backend import Backend
from byom.confirmed import ConfirmedPlan, check_spending
from byom.errors import PreflightError
from byom.evaluate.prompts import prompt_file
from byom.jobs.files import FilePlan, file_plan
from byom.ledger import Ledger, SpendingLimits, fingerprint
from byom.together import FinetuneResponse, ServerlessModelPage

__all__ = [
    "GEN_MAX_TOKENS",
    "JUDGE_MAX_TOKENS",
    "Contestant",
    "EvaluateArgs",
    "EvaluatePlan",
    "plan_evaluate",
]

Method = Literal["loss", "compare", "score"]

# Judges a user would pick on Together, best first: the OpenAPI spec's own example judge, then large open
# instruction models (ref together-openapi.yaml, /evaluation create sample). The first the model list allows wins.
PREFERRED_JUDGES = (
    "openai/gpt-oss-120b",
    "deepseek-ai/DeepSeek-V3",
    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "Qwen/Qwen2.5-72B-Instruct-Turbo",
)
# Evaluation ids (Together's ``workflow_id``, e.g. eval-1234-1244513 in its OpenAPI spec; the engine's alike).
EVALUATION_PREFIX = "eval-"
GEN_MAX_TOKENS = 512
JUDGE_MAX_TOKENS = 1024
_JUDGE_TEMPLATE_TOKENS = 300
JUDGE_COMPARE = (
    "You are an impartial judge. Given a user's prompt and two answers, decide which answer is more helpful, "
    "correct and to the point for that prompt. Judge the content only, not the length or the order."
)
JUDGE_SCORE = (
    "You are an impartial judge. Score the answer to the user's prompt from 1 (useless or wrong) to 10 "
    "(fully correct and helpful)."
)


class EvaluateArgs(BaseModel):
    """``evaluate_model``'s arguments the plan reads (``confirm_token`` and ``wait_seconds`` excluded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = ""
    baseline: str = ""
    data: str = ""
    method: Method = "loss"
    judge: str = ""


class Contestant(BaseModel):
    name: str = Field(description="The name the backend evaluates.")
    source: Literal["serverless", "dedicated"]
    origin: str = Field(description="Where the name came from (given, or the job's).")


class EvaluatePlan(ConfirmedPlan):
    backend: Literal["local", "together"]
    costs_money: bool
    method: Method
    evaluation_id: str | None = Field(None, description="Reading this evaluation: nothing new runs.")
    job_id: str | None = None
    model: Contestant | None = None
    baseline: Contestant | None = None
    judge: Contestant | None = None
    data: str | None = Field(None, description="The data: file, rows, whether uploaded yet.")
    on_training_data: bool = Field(
        False, description="The data is the job's own training file (not held out)."
    )
    usd: float | None = Field(
        None, description="At most this (judge and serverless tokens); None: not estimated."
    )
    price_note: str = ""
    limit_notes: list[str] = Field(default_factory=list)
    # What the run needs and the user need not read (kept out of the output schema, which hosts load once).
    _file: FilePlan | None = PrivateAttr(None)
    _limits: SpendingLimits | None = PrivateAttr(None)
    request: dict[str, Any] = Field(
        default_factory=dict, description="type + parameters; the file is its planned id until uploaded."
    )

    @property
    def bound_usd(self) -> float | None:
        return self.usd

    @property
    def file(self) -> FilePlan | None:
        """The data file as the run uploads it (None: nothing to upload)."""
        return self._file

    @property
    def limits(self) -> SpendingLimits | None:
        return self._limits

    @property
    def needs_confirmation(self) -> bool:
        return self.costs_money and self.evaluation_id is None and bool(self.request)

    def describe(self) -> str:
        if self.evaluation_id is not None:
            return f"Read evaluation {self.evaluation_id}."
        if not self.request:
            return f"Read job {self.job_id}'s own validation loss (Together's metrics): nothing runs."
        lines = [
            f"{self.method} evaluation on {'Together AI' if self.costs_money else 'the local engine (free)'}:"
        ]
        if self.baseline and self.model:
            lines.append(f"- A (baseline): {self.baseline.name} ({self.baseline.origin})")
            lines.append(f"- B (fine-tune): {self.model.name} ({self.model.origin})")
        elif self.model:
            lines.append(f"- model: {self.model.name} ({self.model.origin})")
        if self.judge:
            lines.append(
                f"- judge: {self.judge.name}, {'both orders' if self.method == 'compare' else 'once'} per row"
            )
        if self.data:
            lines.append(
                f"- data: {self.data}" + (" (the job's own training file)" if self.on_training_data else "")
            )
        if self.method == "loss":
            lines.append("- and the same on a general-text sample (forgetting)")
        dedicated = [c.name for c in (self.baseline, self.model) if c is not None and c.source == "dedicated"]
        if dedicated and self.costs_money:
            lines.append(
                f"- {', '.join(dedicated)}: answered by a running endpoint of that name (deploy_endpoint first; "
                "pass the endpoint's name as model= or baseline=)"
            )
        lines.append(f"- price: {self.price_note}")
        lines += self.limit_notes
        return "\n".join(lines)


async def _prompts(data: FilePlan, backend: Backend, ledger: Ledger) -> FilePlan:
    """A judged evaluation's data: a local file's prompts (``prompt_file``), or a file id already in the
    instruction layout (its ``prompt`` column is what the models are asked)."""
    if data.path is not None:
        derived = await anyio.to_thread.run_sync(prompt_file, data.path, backend.settings.cache_dir)
        return await file_plan(str(derived), backend, ledger, "evaluation", "sft")
    if data.dataset_format != "instruction":
        raise PreflightError(
            f"A judged evaluation asks each row's prompt, and file {data.given} holds "
            f"{data.dataset_format or 'rows of an unknown layout'}, which it cannot read on the backend. Pass "
            "data=<the local .jsonl file> (its prompts are extracted here), or a file id of prompt/completion rows."
        )
    return data


def _describe_file(data: FilePlan) -> str:
    rows = f", {data.rows} rows" if data.rows else ""
    upload = "" if data.uploaded else " (uploaded once confirmed)"
    return f"{data.filename or data.given}{rows}{upload}"


def _job_name(job: FinetuneResponse) -> str:
    """The name a completed job's model is served and evaluated by."""
    return job.model_output_name or job.output_name or job.id


async def _job(backend: Backend, job_id: str) -> FinetuneResponse:
    job = await backend.client.retrieve_finetune(job_id)
    if job.status != "completed":
        raise PreflightError(
            f"Job {job_id} is {job.status or 'in an unknown state'}, not completed: there is no fine-tuned model to "
            f"evaluate yet. Call job_status(job_id={job_id!r}, wait_seconds=30) and evaluate once it completes."
        )
    return job


def _source(name: str, allowed: list[str]) -> Literal["serverless", "dedicated"]:
    return "serverless" if name in allowed else "dedicated"


def _pick_judge(given: str | None, allowed: list[str], contestants: set[str], backend: Backend) -> Contestant:
    if given:
        return Contestant(name=given, source=_source(given, allowed), origin="given")
    # Together's list is its own serverless models. The local engine's is what the user deployed — their own
    # fine-tunes, perhaps the very one compared under another name: a model judging itself proves nothing, so the
    # local engine has no default judge.
    for name in (*PREFERRED_JUDGES, *allowed) if backend.costs_money else ():
        if name in allowed and name not in contestants:
            return Contestant(name=name, source="serverless", origin="default judge")
    if backend.kind == "local":
        raise PreflightError(
            "No judge to use: the local engine has no judge of its own (the models it serves are yours, and a model "
            "judging itself proves nothing). Any instruct model directory the engine may read (under your home, its "
            "data dir or BYOM_ENGINE_ALLOW_DIRS) can judge: the engine loads it on demand, nothing to deploy. Pass "
            'judge="/path/to/an-instruct-model" (a capable one: it must follow the judging instructions), or '
            "judge=<a deployed endpoint's name>. Or compare without a judge: method='loss'."
        )
    raise PreflightError(
        f"No judge to use: {backend.label} lists no evaluation model besides the two compared. Pass "
        "judge=<a model from its evaluation model list (GET /v1/evaluation/model-list)>."
    )


def _price(
    plan_method: Method,
    data: FilePlan,
    judge: Contestant,
    contestants: list[Contestant],
    prices: ServerlessModelPage,
) -> tuple[float | None, str]:
    """An upper bound: every row's prompt (bytes / 4 tokens) to each serverless model with GEN_MAX_TOKENS out, and
    to the judge (both orders for compare) with both answers, its template and JUDGE_MAX_TOKENS out."""
    if not data.rows or not data.bytes:
        return None, "not estimated (the data's row count is unknown); judge tokens are billed per token"
    rates = {m.id: m.pricing for m in prices.data if m.pricing is not None}
    per_row = data.bytes / data.rows / 4
    usd = 0.0
    served = [c for c in contestants if c.source == "serverless"]
    for c in served:
        rate = rates.get(c.name)
        if rate is None or rate.input is None or rate.output is None:
            return None, f"not estimated ({c.name} has no published per-token price)"
        usd += data.rows * (per_row * rate.input + GEN_MAX_TOKENS * rate.output) / 1e6
    rate = rates.get(judge.name)
    if rate is None or rate.input is None or rate.output is None:
        return None, f"not estimated (the judge {judge.name} has no published per-token price)"
    calls = data.rows * (2 if plan_method == "compare" else 1)
    judge_in = per_row + len(contestants) * GEN_MAX_TOKENS + _JUDGE_TEMPLATE_TOKENS
    usd += calls * (judge_in * rate.input + JUDGE_MAX_TOKENS * rate.output) / 1e6
    dedicated = [c.name for c in contestants if c.source == "dedicated"]
    also = f"; {', '.join(dedicated)} run on their endpoints, billed per hour while up" if dedicated else ""
    return usd, f"at most ${usd:,.2f} ({calls} judge calls at {judge.name}'s serverless rate{also})"


def _model_request(c: Contestant, template: str) -> dict[str, Any]:
    return {
        "model": c.name,
        "model_source": c.source,
        "system_template": "",
        "input_template": template,
        "max_tokens": GEN_MAX_TOKENS,
        "temperature": 0.2,
    }


async def plan_evaluate(
    args: EvaluateArgs, *, backend: Backend, ledger: Ledger, spend_limits: SpendingLimits
) -> EvaluatePlan:
    """The plan of one evaluate_model call; raises ``PreflightError`` with the fix when it cannot run."""
    common: dict[str, Any] = {
        "backend": backend.kind,
        "costs_money": backend.costs_money,
        "method": args.method,
    }
    if not args.model:
        raise PreflightError(
            "Say what to evaluate: model=<a job id (ft-…), an endpoint, a Together model or a local model directory>, "
            "or model=<eval-…> to read an earlier evaluation."
        )
    if args.model.startswith(EVALUATION_PREFIX):
        return EvaluatePlan(
            backend_url=backend.base_url,
            fingerprint=fingerprint(backend.base_url, {"read": args.model}),
            evaluation_id=args.model,
            **common,
        )
    job = await _job(backend, args.model) if args.model.startswith("ft-") else None
    if job is not None and backend.kind == "together" and args.method == "loss":
        # Together has no held-out loss of two models: its own metrics say how the job's validation loss moved.
        return EvaluatePlan(
            backend_url=backend.base_url,
            fingerprint=fingerprint(backend.base_url, {"metrics": job.id}),
            job_id=job.id,
            price_note="free (the job's metrics)",
            **common,
        )
    if backend.kind == "together" and args.method == "loss":
        raise PreflightError(
            "Together has no held-out loss of two models. Use method='compare' (a judged comparison), or pass the "
            "job id (ft-…) for the job's own validation loss."
        )
    baseline_name = args.baseline or (job.from_hf_model or job.model if job is not None else None)
    if not baseline_name:
        raise PreflightError(
            "No baseline to compare with: pass baseline=<the model you started from> (for a job id it is the job's "
            "from_hf_model)."
        )
    data_given = args.data or (job.validation_file if job is not None else None)
    if not data_given:
        raise PreflightError(
            "No data to evaluate on: pass data=<a local .jsonl file or a file id> of rows the model did not train "
            "on (for a job id it defaults to the job's validation file, and this job had none; its training file "
            "would only show how well it memorised)."
        )
    # Any layout: a judged evaluation asks each row's prompt (preference pairs included); a loss needs one answer.
    data = await file_plan(data_given, backend, ledger, "evaluation", None)
    if args.method == "loss" and data.dataset_format == "preference":
        raise PreflightError(
            f"A loss evaluation scores one answer per prompt, and {data.filename or data.given} holds preference "
            "pairs (chosen/rejected). Use method='compare' with a judge (both models answer each row's prompt), or "
            "pass data=<an SFT .jsonl of the same prompts> (prompt/completion rows, or conversations)."
        )
    if args.method != "loss":
        data = await _prompts(data, backend, ledger)
    # The job's own training file (same id, or the same bytes this machine uploaded as it): a fit, not held out.
    on_training = job is not None and job.training_file is not None and data.file_id == job.training_file
    allowed = await backend.client.evaluation_models() if args.method != "loss" else []
    model = Contestant(
        name=_job_name(job) if job is not None else args.model,
        source=_source(args.model, allowed),
        origin=f"job {job.id}'s model" if job is not None else "given",
    )
    if job is not None:
        model = model.model_copy(update={"source": "dedicated"})
    baseline = Contestant(
        name=baseline_name,
        source=_source(baseline_name, allowed),
        origin="given" if args.baseline else "the job's base (from_hf_model)",
    )
    train_on_inputs = None
    if job is not None and job.training_method is not None:
        train_on_inputs = job.training_method.train_on_inputs
    judge: Contestant | None = None
    usd: float | None
    if args.method == "loss":
        parameters: dict[str, Any] = {
            "input_data_file_path": data.planned_id,
            "model_a": baseline.name,
            "model_b": model.name,
            "forgetting": True,
        }
        if train_on_inputs is not None:
            parameters["train_on_inputs"] = train_on_inputs
        if job is not None and job.max_seq_length:
            parameters["max_seq_length"] = job.max_seq_length
        usd, note = 0.0, "free (the local engine)"
    else:
        template = "{{prompt}}"
        judge = _pick_judge(args.judge, allowed, {model.name, baseline.name}, backend)
        judge_request = {
            "model": judge.name,
            "model_source": judge.source,
            "system_template": JUDGE_COMPARE if args.method == "compare" else JUDGE_SCORE,
            "max_tokens": JUDGE_MAX_TOKENS,
            "temperature": 0.05,
        }
        parameters = {"input_data_file_path": data.planned_id, "judge": judge_request}
        if args.method == "compare":
            parameters |= {
                "model_a": _model_request(baseline, template),
                "model_b": _model_request(model, template),
            }
            contestants = [baseline, model]
        else:
            parameters |= {
                "model_to_evaluate": _model_request(model, template),
                "min_score": 1.0,
                "max_score": 10.0,
                "pass_threshold": 7.0,
            }
            contestants = [model]
        if backend.costs_money:
            usd, note = _price(
                args.method, data, judge, contestants, await backend.client.serverless_models()
            )
        else:
            usd, note = 0.0, "free (the local engine runs the models and the judge)"
    request = {"type": args.method, "parameters": parameters}
    limit_notes = check_spending(
        backend,
        ledger,
        usd,
        spend_limits,
        what="this evaluation",
        smaller="Use a smaller data file or a cheaper judge",
        why_unknown=note,
    )
    plan = EvaluatePlan(
        backend_url=backend.base_url,
        fingerprint=fingerprint(backend.base_url, request),
        job_id=job.id if job is not None else None,
        model=model,
        baseline=baseline,
        judge=judge,
        data=_describe_file(data),
        on_training_data=on_training,
        usd=usd if backend.costs_money else None,
        price_note=note,
        limit_notes=limit_notes,
        request=request,
        **common,
    )
    plan._file, plan._limits = data, spend_limits
    return plan
