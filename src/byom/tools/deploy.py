"""deploy_endpoint and manage_endpoint: serve a fine-tuned model, then watch, stop, start or delete it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from byom.endpoints import (
    DeployArgs,
    DeployPlan,
    DeployResult,
    EndpointAction,
    EndpointReport,
    manage,
    plan_manage,
)
from byom.endpoints.manage import ManageArgs, ManagePlan, render_report
from byom.jobs.iterate import continuation
from byom.ledger import SpendingLimits
from byom.tools._common import MAX_WAIT_S, AppState, domain_errors, progress_reporter, state, tool_result
from byom.tools._confirm import Confirm, Confirmation, ConfirmTokenArg

__all__ = ["deploy_endpoint", "manage_endpoint"]


class DeployEndpointResult(BaseModel):
    status: Literal["deployed", "confirmation_required", "declined", "dry_run"]
    endpoint: DeployResult | None = None
    confirm_token: str | None = None
    plan: DeployPlan
    continue_with: str | None = Field(
        None, description="The create_finetune call that trains on from the deployed job's output."
    )
    note: str


async def _plan_deploy(ctx: Context[AppState, Any], args: DeployArgs, limits: SpendingLimits) -> DeployPlan:
    from byom.endpoints import plan_deploy  # Together's client and shapes load on the first deploy

    app = state(ctx)
    return await plan_deploy(args, backend=await app.backend(), ledger=app.ledger, spend_limits=limits)


_deploy = Confirmation("deploy_endpoint", DeployArgs, _plan_deploy, DeployPlan, tool_only=("wait_seconds",))


async def deploy_endpoint(
    ctx: Context[AppState, Any],
    job_id: Annotated[
        str | None, Field(description="A completed fine-tune job (ft-…).", max_length=200)
    ] = None,
    model: Annotated[str | None, Field(description="Or a registry model id (ml_…).", max_length=200)] = None,
    config: Annotated[
        str | None,
        Field(description="A config id; default: the cheapest with enough memory.", max_length=300),
    ] = None,
    min_replicas: Annotated[int, Field(ge=0, le=16, description="Replicas kept running.")] = 1,
    max_replicas: Annotated[int, Field(ge=1, le=16, description="Most replicas; the cost counts these.")] = 1,
    inactive_timeout: Annotated[
        int, Field(ge=0, le=1440, description="Idle minutes before auto-stop; 0 never.")
    ] = 60,
    lora: Annotated[
        Literal["merge", "attach"],
        Field(
            description="merge: serve the adapter on its own; attach: onto a running deployment of its base."
        ),
    ] = "merge",
    endpoint_name: Annotated[
        str | None,
        Field(max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$", description="Default: from the job."),
    ] = None,
    wait_seconds: Annotated[
        int, Field(ge=0, le=MAX_WAIT_S, description="Wait up to this long for READY (≤ 45).")
    ] = 0,
    dry_run: Annotated[bool, Field(description="Plan only (hardware, $/hour); nothing created.")] = False,
    confirm_token: ConfirmTokenArg = None,
    *,
    plan: Annotated[DeployPlan, Resolve(_deploy.plan)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(_deploy.answer)],
) -> Annotated[CallToolResult, DeployEndpointResult]:
    """Deploy a completed fine-tune behind a dedicated endpoint after the user confirms the hourly cost.

    Picks a config with enough memory (rolled back on failure). READY only after one completion through the
    Python and curl it returns. "What would it cost?": dry_run=true.
    """
    settled = _deploy.settle(ctx, plan, answer, confirm_token)
    if not settled.go:
        result = DeployEndpointResult(
            **settled.stopped,
            plan=plan,
        )
        return tool_result(result, f"{settled.note}\n\nPlan:\n{plan.summary}")
    from byom.endpoints import deploy

    app = state(ctx)
    with domain_errors():
        backend = await app.backend()
        done = await deploy(
            plan,
            backend=backend,
            ledger=app.ledger,
            wait_seconds=wait_seconds,
            progress=progress_reporter(ctx),
        )
    continued = await continuation(backend, plan.job_id) if plan.job_id else None
    result = DeployEndpointResult(
        status="deployed", endpoint=done, plan=plan, continue_with=continued, note=settled.note
    )
    text = (
        f"Endpoint {done.endpoint_name} ({done.endpoint_id}): {done.headline} {settled.note}\n"
        f"Call it with model={done.endpoint_name!r}. Python (needs `{done.install}`):\n```python\n{done.python}\n```\n"
        f"curl:\n```sh\n{done.curl}\n```\nNext: {done.next_step}"
        + (f"\nTo train on from it: {continued}" if continued else "")
    )
    return tool_result(result, text)


_deploy.bind(deploy_endpoint)


class ManageEndpointResult(BaseModel):
    status: Literal["done", "confirmation_required", "declined"]
    report: EndpointReport | None = None
    confirm_token: str | None = None
    plan: ManagePlan
    note: str


async def _plan_manage(ctx: Context[AppState, Any], args: ManageArgs, _: SpendingLimits) -> ManagePlan:
    return await plan_manage(await state(ctx).backend(), args)


_manage = Confirmation("manage_endpoint", ManageArgs, _plan_manage, ManagePlan)


async def manage_endpoint(
    ctx: Context[AppState, Any],
    endpoint: Annotated[
        str,
        Field(description="Endpoint id (ep_…) or name from deploy_endpoint.", min_length=1, max_length=300),
    ],
    action: Annotated[
        EndpointAction, Field(description="status, stop (0 replicas), start, or delete.")
    ] = "status",
    confirm_token: ConfirmTokenArg = None,
    *,
    plan: Annotated[ManagePlan, Resolve(_manage.plan)],
    answer: Annotated[ElicitationResult[Confirm], Resolve(_manage.answer)],
) -> Annotated[CallToolResult, ManageEndpointResult]:
    """Status of an endpoint (state, replicas, recent warnings), or stop, start or delete it (confirmed)."""
    settled = _manage.settle(ctx, plan, answer, confirm_token)
    if not settled.go:
        result = ManageEndpointResult(
            **settled.stopped,
            plan=plan,
        )
        return tool_result(result, f"{settled.note}\n\n{plan.summary}")
    with domain_errors():
        report = await manage(await state(ctx).backend(), plan)
    note = settled.note if settled.status != "not_needed" else ""
    result = ManageEndpointResult(status="done", report=report, plan=plan, note=note)
    return tool_result(result, render_report(report) + (f"\n{note}" if note else ""))


_manage.bind(manage_endpoint)
