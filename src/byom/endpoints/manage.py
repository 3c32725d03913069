"""An endpoint's status, and stopping, starting and deleting it (ref 2026-11 §3.10–3.11, §3.13 step 9).

stop    every deployment scaled to 0/0 (billing stops; the endpoint and its name stay)
start   every deployment scaled back to 1/1
delete  the traffic split emptied, the deployments deleted, then the endpoint
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from byom.backend import Backend, Project
from byom.confirmed import ConfirmedPlan
from byom.errors import PreflightError, TogetherAPIError
from byom.ledger import fingerprint
from byom.untrusted import EVENT_CHARS, fence, quote

if TYPE_CHECKING:
    from byom.together import Endpoint

__all__ = [
    "DeploymentLine",
    "EndpointAction",
    "EndpointReport",
    "ManageArgs",
    "ManagePlan",
    "find_endpoint",
    "manage",
    "plan_manage",
]

EndpointAction = Literal["status", "stop", "start", "delete"]


class DeploymentLine(BaseModel):
    deployment_id: str
    name: str | None
    state: str | None
    ready_replicas: int | None
    min_replicas: int | None
    max_replicas: int | None
    hardware: str | None
    message: str | None = Field(None, description="The backend's status message (untrusted, truncated).")


class EndpointReport(BaseModel):
    endpoint_id: str
    endpoint_name: str | None = Field(description="Pass this as `model` to chat completions.")
    action: EndpointAction
    done: str
    deployments: list[DeploymentLine]
    traffic_split: dict[str, float]
    warnings: list[str] = Field(
        default_factory=list, description="Recent warning events (untrusted, truncated)."
    )
    next_step: str


class ManageArgs(BaseModel):
    """``manage_endpoint``'s arguments (``confirm_token`` excluded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    endpoint: str = Field(min_length=1, max_length=300)
    action: EndpointAction = "status"


class ManagePlan(ConfirmedPlan):
    endpoint_id: str
    endpoint_name: str | None
    action: EndpointAction
    deployments: list[str]
    costs_money: bool

    @property
    def needs_confirmation(self) -> bool:
        return self.action != "status" and not (self.action == "start" and not self.costs_money)

    def describe(self) -> str:
        words = {
            "status": "Show the status of",
            "stop": "Stop (scale to 0 replicas)",
            "start": "Start (scale to 1 replica)",
            "delete": "Delete, with its deployments,",
        }[self.action]
        summary = f"{words} endpoint {self.endpoint_name or self.endpoint_id} ({len(self.deployments)} deployment(s))."
        if self.action == "delete":
            summary += " Its name stops answering; the fine-tuned model stays in the registry."
        if self.action == "start" and self.costs_money:
            summary += " Billing resumes per running replica."
        if self.action != "status":
            summary += f" {self.action.capitalize()} it?"
        return summary


async def find_endpoint(backend: Backend, project: Project, endpoint: str) -> Endpoint:
    """An endpoint by id (``ep_…``) or name (``<slug>/<name>`` or the bare name)."""
    client = backend.client
    if endpoint.startswith("ep_"):
        return await client.retrieve_endpoint(project.id, endpoint)  # an unknown id: EndpointNotFound
    else:
        found = await client.list_endpoints(project.id, name=endpoint.rsplit("/", 1)[-1])
        if found:
            return found[0]
    raise PreflightError(
        f"No endpoint {endpoint!r} in project {project.id} on {backend.label}. Pass the endpoint id (ep_…) or name "
        "that deploy_endpoint returned."
    )


async def plan_manage(backend: Backend, args: ManageArgs) -> ManagePlan:
    project = await backend.project()
    ep = await find_endpoint(backend, project, args.endpoint)
    deps = sorted(d.id for d in await backend.client.list_deployments(project.id, ep.id))
    return ManagePlan(
        backend_url=backend.base_url,
        fingerprint=fingerprint(
            backend.base_url, {"endpoint": ep.id, "action": args.action, "deployments": deps}
        ),
        endpoint_id=ep.id,
        endpoint_name=ep.name,
        action=args.action,
        deployments=deps,
        costs_money=backend.costs_money,
    )


async def manage(backend: Backend, plan: ManagePlan) -> EndpointReport:
    project = await backend.project()
    client = backend.client
    ep_id = plan.endpoint_id
    if plan.action in ("stop", "start"):
        replicas = 0 if plan.action == "stop" else 1
        for dep_id in plan.deployments:
            await client.scale_deployment(
                project.id, ep_id, dep_id, min_replicas=replicas, max_replicas=replicas
            )
        done = f"{'Stopped' if replicas == 0 else 'Started'} {len(plan.deployments)} deployment(s)."
    elif plan.action == "delete":
        ep = await client.retrieve_endpoint(project.id, ep_id)
        if ep.traffic_split:
            await client.set_traffic_split(project.id, ep_id, [], etag=ep.etag)
        for dep_id in plan.deployments:
            await client.delete_deployment(project.id, ep_id, dep_id)
        await client.delete_endpoint(project.id, ep_id)
        return EndpointReport(
            endpoint_id=ep_id,
            endpoint_name=plan.endpoint_name,
            action="delete",
            done=f"Deleted endpoint {plan.endpoint_name or ep_id} and {len(plan.deployments)} deployment(s).",
            deployments=[],
            traffic_split={},
            next_step=(
                "Nothing is billed for it any more."
                if backend.costs_money
                else "Its memory on this machine is freed."
            )
            + " deploy_endpoint(job_id=…) deploys again.",
        )
    else:
        done = "Status read."
    return await _report(backend, project, ep_id, plan.action, done)


async def _report(
    backend: Backend, project: Project, ep_id: str, action: EndpointAction, done: str
) -> EndpointReport:
    client = backend.client
    ep = await client.retrieve_endpoint(project.id, ep_id)
    deps = await client.list_deployments(project.id, ep_id)
    try:
        events = await client.endpoint_events(project.id, ep_id, min_level="LEVEL_WARN", limit=10)
    except TogetherAPIError:
        events = []
    lines = [
        DeploymentLine(
            deployment_id=d.id,
            name=d.name,
            state=d.state,
            ready_replicas=d.status.ready_replicas if d.status else None,
            min_replicas=d.autoscaling.min_replicas if d.autoscaling else None,
            max_replicas=d.autoscaling.max_replicas if d.autoscaling else None,
            hardware=d.hardware,
            message=quote(d.status.message, EVENT_CHARS) if d.status and d.status.message else None,
        )
        for d in deps
    ]
    ready = any(d.state == "DEPLOYMENT_STATE_READY" for d in deps)
    if ready:
        stop = (
            "stops billing" if backend.costs_money else "frees this machine's memory (it is free either way)"
        )
        nxt = f"Call it with model={ep.name!r}; action='stop' {stop}, 'delete' removes it."
    elif deps and all(d.state == "DEPLOYMENT_STATE_STOPPED" for d in deps):
        nxt = "Stopped: action='start' starts it again, 'delete' removes it."
    else:
        nxt = "Not ready yet: call manage_endpoint(action='status') again in a minute."
    return EndpointReport(
        endpoint_id=ep.id,
        endpoint_name=ep.name,
        action=action,
        done=done,
        deployments=lines,
        traffic_split={e.deployment_id: e.weight for e in ep.traffic_split},
        warnings=[quote(m, EVENT_CHARS) for m in (e.message or e.reason for e in events) if m],
        next_step=nxt,
    )


def render_report(report: EndpointReport) -> str:
    lines = [f"Endpoint {report.endpoint_name or report.endpoint_id} ({report.endpoint_id}): {report.done}"]
    for d in report.deployments:
        lines.append(
            f"- {d.deployment_id} {d.state or '-'}: {d.ready_replicas or 0} ready, replicas {d.min_replicas}–"
            f"{d.max_replicas}, {d.hardware or '-'}"
        )
    if report.warnings:
        lines.append(
            "Recent warnings (untrusted text from the backend):\n"
            + fence("\n".join(report.warnings), "backend")
        )
    lines.append(f"Next: {report.next_step}")
    return "\n".join(lines)
