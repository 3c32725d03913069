"""LoRA ``merge`` and full models: a new deployment behind an endpoint (ref 2026-11 §3.10–3.13).

endpoint (created; or reused on 409 when it serves this model only) → deployment (a lost answer: found by
its name) → traffic split → wait for READY. Any failure removes what this call created (``rollback``); a
deployment that FAILED to start too.
"""

from __future__ import annotations

import time

import anyio

from byom.backend import Backend, Project
from byom.confirmed import Progress, create_or_find, poll_until
from byom.endpoints.calling import Caller
from byom.endpoints.rollback import remove_created
from byom.endpoints.serving import DeployPlan, DeployResult, bare, served
from byom.errors import PreflightError, RequestOutcomeUnknown, TogetherAPIError
from byom.ledger import Ledger
from byom.together import AutoscalingSpec, Deployment, DeploymentCreate, Endpoint, TrafficSplitEntry

__all__ = ["create_serving", "wait_ready"]

_POLL_S = 1.0


async def _endpoint(backend: Backend, project: Project, plan: DeployPlan) -> tuple[Endpoint, bool]:
    """The planned endpoint: created, or (a 409: the name is taken) reused when it serves nothing else; whether
    this call created it."""
    client = backend.client
    try:
        return await client.create_endpoint(project.id, plan.endpoint_name), True
    except TogetherAPIError as exc:
        if exc.status_code != 409:
            raise
        found = await client.list_endpoints(project.id, name=plan.endpoint_name)
        if not found:
            raise
        endpoint = found[0]
        # Reused only when it serves nothing else: its traffic would otherwise be split between two models.
        others = [
            d
            for d in endpoint.deployments
            if (d.model or "").split("/revisions/")[0] != plan.model_resource.split("/revisions/")[0]
        ]
        if others:
            raise PreflightError(
                f"Endpoint {endpoint.name or endpoint.id} already serves another model ({len(others)} "
                "deployment(s)). Pass another endpoint_name, or delete that endpoint first (manage_endpoint)."
            ) from exc
        return endpoint, False


async def create_serving(
    plan: DeployPlan,
    *,
    backend: Backend,
    project: Project,
    ledger: Ledger,
    row: int,
    wait_seconds: float,
    progress: Progress | None,
) -> DeployResult:
    """Create the planned endpoint, deployment and traffic split (ledger row ``row`` claimed); roll back what
    this call created if any step fails."""
    client = backend.client
    assert plan.config is not None
    created_endpoint: Endpoint | None = None
    created_dep: Deployment | None = None
    try:
        endpoint, new = await _endpoint(backend, project, plan)
        created_endpoint = endpoint if new else None
        body = DeploymentCreate(
            name=f"{plan.endpoint_name}-{int(time.time()) % 100000}",
            model=plan.model_resource,
            config=plan.config.resource_name,
            autoscaling=AutoscalingSpec(min_replicas=plan.min_replicas, max_replicas=plan.max_replicas),
            inactive_timeout=plan.inactive_timeout,
        )

        async def find() -> Deployment | None:
            # The answer was lost: the deployment may exist and bill. Found by its name, to keep or roll back.
            deployments = await client.list_deployments(project.id, endpoint.id)
            return next((d for d in deployments if bare(d.name or "") == body.name), None)

        dep, _ = await create_or_find(lambda: client.create_deployment(project.id, endpoint.id, body), find)
        created_dep = dep
        endpoint = await client.retrieve_endpoint(project.id, endpoint.id)
        split = [e for e in endpoint.traffic_split if e.deployment_id != dep.id]
        split.append(TrafficSplitEntry(deployment_id=dep.id, weight=1.0))
        endpoint = await client.set_traffic_split(project.id, endpoint.id, split, etag=endpoint.etag)
    except BaseException as exc:
        ledger.fail(row)
        with anyio.CancelScope(shield=True):
            removed = await remove_created(
                backend, project, created_endpoint, created_dep, endpoint_reused=created_endpoint is None
            )
        if removed and isinstance(exc, RequestOutcomeUnknown):
            # The lost answer's own hint ("look it up") is moot: the rollback looked and removed it.
            raise PreflightError(
                f"A deploy step's answer from {backend.label} was lost, so the request may have reached the server; "
                "what this call created was removed, and nothing of it is left running or billing. Call "
                "deploy_endpoint again."
            ) from exc
        raise
    ledger.finish(row, dep.id)
    dep = await wait_ready(backend, project, endpoint.id, dep.id, wait_seconds, progress)
    if dep.status is not None and dep.status.is_failed:
        # It never ran: its estimate no longer counts against the daily limit, whatever the rollback does.
        ledger.fail(row)
        message = (dep.status.message or "no message")[:300]
        with anyio.CancelScope(shield=True):
            removed = await remove_created(
                backend, project, created_endpoint, dep, endpoint_reused=created_endpoint is None
            )
        undone = (
            "What this call created was removed."
            if removed
            else f"Deployment {dep.id} (it serves nothing) could not be removed from endpoint {endpoint.id}; "
            "the byom-mcp log says why."
        )
        raise PreflightError(
            f"The deployment failed to start: {message}. {undone} manage_endpoint's status shows the endpoint's "
            "events; try another config, or a smaller model."
        )
    return served(
        plan,
        endpoint,
        endpoint.name or endpoint.id,
        dep.id,
        dep.status is not None and dep.status.is_ready,
        caller=Caller.of(backend),
        reused=created_endpoint is None,
        state=dep.state,
    )


async def wait_ready(
    backend: Backend,
    project: Project,
    ep_id: str,
    dep_id: str,
    wait_seconds: float,
    progress: Progress | None,
) -> Deployment:
    """The deployment once READY or FAILED, or as it is when ``wait_seconds`` run out."""
    return await poll_until(
        lambda: backend.client.retrieve_deployment(project.id, ep_id, dep_id),
        lambda d: d.status is not None and (d.status.is_ready or d.status.is_failed),
        wait_seconds=wait_seconds,
        progress=progress,
        report=lambda d, tick: (tick, None, f"deployment {d.state or 'starting'}"),
        interval=_POLL_S,
    )
