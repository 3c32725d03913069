"""evaluate_model: did the fine-tune get better than the model it started from, and did it forget?"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from byom.evaluate import EvaluateArgs, EvaluatePlan, EvaluationReport, plan_evaluate, render, run_evaluation
from byom.ledger import SpendingLimits
from byom.tools._common import MAX_WAIT_S, AppState, domain_errors, progress_reporter, state, tool_result
from byom.tools._confirm import Confirm, Confirmation, ConfirmTokenArg

__all__ = ["evaluate_model"]


class EvaluateModelResult(BaseModel):
    status: Literal["done", "confirmation_required", "declined"]
    report: EvaluationReport | None = None
    confirm_token: str | None = None
    plan: EvaluatePlan
    note: str


async def _plan(ctx: Context[AppState, Any], args: EvaluateArgs, limits: SpendingLimits) -> EvaluatePlan:
    app = state(ctx)
    return await plan_evaluate(args, backend=await app.backend(), ledger=app.ledger, spend_limits=limits)


_evaluate = Confirmation(
    "evaluate_model",
    EvaluateArgs,
    _plan,
    EvaluatePlan,
)

_Name = Annotated[str, Field(max_length=300)]


async def evaluate_model(
    ctx: Context[AppState, Any],
    model: Annotated[
        _Name, Field(description="Job id, endpoint, model or local dir; eval-… reads one.")
    ] = "",
    baseline: Annotated[_Name, Field(description="Default: job's base.")] = "",
    data: Annotated[_Name, Field(description=".jsonl or file id; default: job's validation file.")] = "",
    method: Annotated[
        Literal["loss", "compare", "score"],
        Field(description="loss (+forgetting): free, local engine; compare/score: judged."),
    ] = "loss",
    judge: Annotated[_Name, Field(description="Default: one the backend has.")] = "",
    confirm_token: ConfirmTokenArg = None,
    *,
    plan: Annotated[EvaluatePlan, Resolve(_evaluate.plan)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(_evaluate.answer)],
) -> Annotated[CallToolResult, EvaluateModelResult]:
    """Is a completed fine-tune better than its base? Use before deploying. A table, a verdict within
    the noise, the next call. Judged runs on Together cost: confirmed first."""
    settled = _evaluate.settle(ctx, plan, answer, confirm_token)
    if not settled.go:
        result = EvaluateModelResult(**settled.stopped, plan=plan)
        return tool_result(result, f"{settled.note}\n\nPlan:\n{plan.summary}")
    app = state(ctx)
    with domain_errors():
        report = await run_evaluation(
            plan,
            backend=await app.backend(),
            ledger=app.ledger,
            wait_seconds=MAX_WAIT_S - 5,
            progress=progress_reporter(ctx),
        )
    note = settled.note if settled.status != "not_needed" else ""
    if not plan.costs_money and plan.evaluation_id is None:
        note = f"{note} Free: the local engine ran it, nothing was billed.".strip()
    result = EvaluateModelResult(status="done", report=report, plan=plan, note=note)
    return tool_result(result, render(report) + (f"\n{note}" if note else ""))


_evaluate.bind(evaluate_model)
