"""LoRA ``attach``: the adapter loaded onto a running deployment of its own base (ref 2026-11 §3.9).

attach_target (plan time): a READY/SCALING deployment of the adapter's registry base whose config accepts
                           adapters
attach:                    POST the adapter (a lost answer: found by its model) → wait until it is loaded;
                           any failure after it was attached takes it off again
"""

from __future__ import annotations

import anyio

from byom.backend import Backend, Project
from byom.confirmed import Progress, create_or_find, poll_until
from byom.endpoints.calling import Caller
from byom.endpoints.rollback import detach
from byom.endpoints.serving import DeployPlan, DeployResult, served
from byom.errors import PreflightError, TogetherAPIError
from byom.ledger import Ledger
from byom.together import Deployment, DeploymentAdapter, RegistryModel

__all__ = ["attach", "attach_target"]

_READY = "ADAPTER_LOAD_STATE_READY"
_FAILED = "ADAPTER_LOAD_STATE_FAILED"


async def attach_target(backend: Backend, project: Project, adapter: RegistryModel) -> str:
    """``<endpoint id>/<deployment id>`` of a deployment of the adapter's own base that accepts adapters."""
    if not adapter.base_model:
        raise PreflightError(
            f"Adapter {adapter.name or adapter.id} records no base model, so nothing can host it. Use lora='merge'."
        )
    base_id = adapter.base_model.rsplit("/", 1)[-1]
    client = backend.client
    for endpoint in await client.list_endpoints(project.id):
        for dep in await client.list_deployments(project.id, endpoint.id):
            dep_model = (dep.model or "").split("/revisions/")[0]
            if dep_model.rsplit("/", 1)[-1] != base_id or dep.state not in (
                "DEPLOYMENT_STATE_READY",
                "DEPLOYMENT_STATE_SCALING",
            ):
                continue
            mode = await _adapter_mode(backend, project, dep)
            if mode in ("dynamic", "fixed", "ADAPTER_MODE_DYNAMIC", "ADAPTER_MODE_FIXED"):
                return f"{endpoint.id}/{dep.id}"
    raise PreflightError(
        f"No running deployment of the adapter's base ({adapter.base_model}) accepts adapters. Deploy that base "
        "with a config whose adapter_mode is dynamic first, or use lora='merge' to serve the adapter on its own."
    )


async def _adapter_mode(backend: Backend, project: Project, dep: Deployment) -> str | None:
    if not dep.config:
        return None
    reference = (dep.model or "").split("/revisions/")[0] or None
    for config in await backend.client.list_configs(project.id, reference_model=reference):
        if dep.config in (config.resource_name, config.id) or dep.config.endswith(f"/{config.id}"):
            return config.selector("adapter_mode")
    return None


async def attach(
    plan: DeployPlan,
    *,
    backend: Backend,
    project: Project,
    ledger: Ledger,
    row: int,
    wait_seconds: float,
    progress: Progress | None,
) -> DeployResult:
    """Attach the planned adapter (ledger row ``row`` claimed); taken off again if anything after fails."""
    client = backend.client
    assert plan.attach_to is not None
    ep_id, dep_id = plan.attach_to.split("/", 1)
    revision = plan.model_resource.split("/revisions/")[1] if "/revisions/" in plan.model_resource else None

    async def find() -> DeploymentAdapter | None:
        # The answer was lost: it may be attached (and serving). Found by its model, to keep or roll back.
        attached = await client.list_adapters(project.id, ep_id, dep_id)
        return next((a for a in attached if a.adapter_model_id == plan.model_id), None)

    try:
        adapter, _ = await create_or_find(
            lambda: client.attach_adapter(
                project.id, ep_id, dep_id, plan.model_id, adapter_revision_id=revision
            ),
            find,
        )
    except TogetherAPIError:
        ledger.fail(row)
        raise
    try:
        endpoint = await client.retrieve_endpoint(project.id, ep_id)
        loaded = await poll_until(
            lambda: client.retrieve_adapter(project.id, ep_id, dep_id, adapter.id),
            lambda a: a.state in (_READY, _FAILED),
            wait_seconds=wait_seconds,
            progress=progress,
            report=lambda _, tick: (tick, None, "adapter loading"),
        )
        if loaded.state == _FAILED:
            raise PreflightError(
                "The adapter failed to load on the deployment: "
                + "; ".join((c.message or c.reason or "no message")[:200] for c in loaded.per_cluster or [])
            )
    except BaseException:
        ledger.fail(row)
        with anyio.CancelScope(shield=True):
            await detach(backend, project, ep_id, dep_id, adapter)
        raise
    ledger.finish(row, adapter.id)
    ready = loaded.state == _READY
    # The engine routes an attached adapter by its registry name; Together documents no name (ref §7 #2).
    name = plan.model_name if backend.kind == "local" and plan.model_name else endpoint.name or ep_id
    return served(
        plan,
        endpoint,
        name,
        dep_id,
        ready,
        adapter_id=adapter.id,
        caller=Caller.of(backend),
        reused=True,
        state=_READY if ready else "ADAPTER_LOAD_STATE_LOADING",
    )
