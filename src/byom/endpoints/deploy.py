"""From a completed fine-tune to an endpoint that answers (ref 2026-11 §3.12–3.13).

    plan_deploy:  the job is completed and has registry ids → the registry model → configs compatible with
                  its base → the cheapest config whose instance type holds the model (or the one asked for)
                  → the hourly cost and auto-stop → a plan to confirm
    deploy:       endpoint (reused on 409) → deployment → traffic split → (wait for READY); any failure
                  rolls back what this call created

LoRA: ``merge`` deploys the adapter model itself on a config of its base (the API merges it); ``attach``
loads the adapter onto a running deployment of its base whose config accepts adapters. The base is the
adapter's registry ``baseModel``: an adapter trained from a custom ``from_hf_model`` belongs to those
weights and is never attached to the template's base.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from typing import Any, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field

from byom.backend import Backend, Project
from byom.errors import PreflightError, RequestOutcomeUnknown, TogetherAPIError
from byom.jobs.launch import Progress
from byom.ledger import Ledger, SpendingLimits, fingerprint
from byom.together import (
    AutoscalingSpec,
    Deployment,
    DeploymentCreate,
    Endpoint,
    FinetuneResponse,
    InstanceType,
    RegistryModel,
    ServingConfig,
    TrafficSplitEntry,
)

__all__ = [
    "DeployArgs",
    "DeployPlan",
    "DeployResult",
    "PreflightError",
    "deploy",
    "plan_deploy",
    "wait_ready",
]

log = logging.getLogger(__name__)

# Serving needs the weights plus room for activations and the KV cache.
_SERVING_OVERHEAD = 1.2
_BYTES_PER_DTYPE = {
    "F32": 4,
    "FLOAT32": 4,
    "BF16": 2,
    "F16": 2,
    "FLOAT16": 2,
    "BFLOAT16": 2,
    "I8": 1,
    "U8": 1,
    "F8_E4M3": 1,
}
_POLL_S = 1.0


class DeployArgs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str | None = None
    model: str | None = None
    config: str | None = None
    min_replicas: int = 1
    max_replicas: int = 1
    inactive_timeout: int = 60
    lora: Literal["merge", "attach"] = "merge"
    endpoint_name: str | None = None


class ConfigChoice(BaseModel):
    config_id: str
    resource_name: str
    instance_type: str | None
    memory_gib: float | None
    usd_per_hour: float | None
    adapter_mode: str | None = None


class DeployPlan(BaseModel):
    backend: Literal["local", "together"]
    backend_url: str
    costs_money: bool
    job_id: str | None
    model_id: str
    model_name: str | None
    model_resource: str
    is_adapter: bool
    base_model: str | None = Field(None, description="The registry model an adapter belongs to.")
    lora: Literal["merge", "attach"]
    needed_gib: float | None = Field(None, description="Estimated serving memory: weights × 1.2.")
    config: ConfigChoice | None = Field(
        None, description="None for attach: the adapter goes on a running deployment."
    )
    attach_to: str | None = Field(
        None, description="attach: the deployment (endpoint/deployment ids) it goes on."
    )
    other_configs: list[ConfigChoice] = Field(default_factory=list)
    min_replicas: int
    max_replicas: int
    inactive_timeout: int
    endpoint_name: str
    usd_per_hour: float | None
    estimate_usd: float = Field(
        description="What the spending limits count: the hourly cost until auto-stop."
    )
    limits: SpendingLimits = Field(description="The spending limits this plan is held to.")
    spending: list[str] = Field(default_factory=list)
    request: dict[str, Any] = Field(description="What will be created, as the ledger records it.")
    fingerprint: str
    plan_hash: str
    summary: str

    @property
    def needs_confirmation(self) -> bool:
        return True


class DeployResult(BaseModel):
    endpoint_name: str = Field(description="Pass this as `model` to chat completions.")
    endpoint_id: str
    deployment_id: str | None
    adapter_id: str | None = None
    state: str | None
    ready: bool
    reused_endpoint: bool
    usd_per_hour: float | None
    auto_stop_minutes: int
    python: str
    curl: str
    next_step: str


def _bare(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _endpoint_name(job: FinetuneResponse | None, model: RegistryModel) -> str:
    # ft-<uuid> → its first 8 hex digits: short, still one job's, and two jobs with one suffix never collide.
    if job is not None:
        short = job.id.removeprefix("ft-")[:8]
        base = f"{job.suffix}-{short}" if job.suffix else short
    else:
        base = _bare(model.name or model.id)
    return re.sub(r"[^a-z0-9-]+", "-", f"byom-{base}".lower()).strip("-")[:60]


def _weights_gib(model: RegistryModel) -> float | None:
    params = model.weights.parameters if model.weights else None
    if params is None:
        return None
    if params.by_dtype:
        total = sum(
            int(d.count or 0) * _BYTES_PER_DTYPE.get((d.dtype or "").upper(), 2) for d in params.by_dtype
        )
    elif params.total:
        total = int(params.total) * 2
    else:
        return None
    return total / 2**30


def _choice(config: ServingConfig, types: dict[str, InstanceType]) -> ConfigChoice:
    kind = types.get(config.instance_type or "")
    memory = None
    if kind is not None and kind.gpu_memory_gib is not None:
        memory = kind.gpu_memory_gib * max(kind.gpu_count or 1, 1)
    return ConfigChoice(
        config_id=config.id,
        resource_name=config.resource_name,
        instance_type=config.instance_type,
        memory_gib=memory,
        usd_per_hour=kind.usd_per_hour if kind is not None else None,
        adapter_mode=config.selector("adapter_mode"),
    )


async def _weights_of(
    args: DeployArgs, backend: Backend, project: Project
) -> tuple[FinetuneResponse | None, str, str | None]:
    """The job (if any), the registry model id and revision to deploy."""
    client = backend.client
    if args.job_id:
        job = await client.retrieve_finetune(args.job_id)
        if job.status != "completed":
            raise PreflightError(
                f"Job {job.id} is {job.status}: only a completed job can be deployed. Follow it with job_status."
            )
        if args.lora == "attach" or (job.is_lora and not job.model_object_id):
            model_id, revision = job.adapter_object_id, job.adapter_object_revision_id
            what = "adapter_object_id"
        else:
            model_id, revision = job.model_object_id, job.model_object_revision_id
            what = "model_object_id"
        if not model_id:
            raise PreflightError(
                f"Job {job.id} is completed but has no {what} (its registry model), so it cannot be deployed yet. "
                "Wait a minute and call again; if it stays missing, the backend did not register the weights."
            )
        return job, model_id, revision
    if args.model:
        if not args.model.startswith("ml_"):
            raise PreflightError(
                f"model={args.model!r}: pass a registry model id (ml_…, from job_status) or job_id= instead."
            )
        return None, args.model, None
    raise PreflightError("Pass job_id (a completed fine-tune) or model (a registry model id, ml_…).")


async def plan_deploy(
    args: DeployArgs, *, backend: Backend, ledger: Ledger, spend_limits: SpendingLimits | None = None
) -> DeployPlan:
    """The deploy's plan: a config that fits, its cost until auto-stop, and ``spend_limits`` applied (by default the
    user's own)."""
    limits = spend_limits or SpendingLimits.of(
        backend.settings.max_usd, backend.settings.max_usd_per_day, by_token=False
    )
    if not 0 <= args.min_replicas <= args.max_replicas or args.max_replicas < 1:
        raise PreflightError("Replicas: need 0 ≤ min_replicas ≤ max_replicas and max_replicas ≥ 1.")
    if args.inactive_timeout != 0 and not 30 <= args.inactive_timeout <= 1440:
        raise PreflightError("inactive_timeout is in minutes: 0 (never auto-stop) or 30 to 1440.")
    client = backend.client
    project = await backend.project()
    job, model_id, revision = await _weights_of(args, backend, project)
    model = await client.retrieve_model(project.id, model_id)
    is_adapter = model.weights is not None and model.weights.is_adapter
    resource = model.resource_name(revision)
    needed = _weights_gib(model)
    types = {t.name or t.id: t for t in await client.list_instance_types()}
    config: ConfigChoice | None = None
    others: list[ConfigChoice] = []
    attach_to: str | None = None
    if args.lora == "attach":
        if not is_adapter:
            raise PreflightError(
                f"{model.name or model.id} is not a LoRA adapter: deploy it with lora='merge'."
            )
        attach_to = await _attach_target(backend, project, model)
    else:
        # The CLI's rule (ref §3.6): configs of the model's base when it has one, else of the model itself; a
        # derived model may carry configs of its own, so those are asked for when the base has none.
        configs = []
        if model.base_model:
            configs = await client.list_configs(project.id, reference_model=model.base_model)
        if not configs and not is_adapter:
            configs = await client.list_configs(project.id, reference_model=model.resource_name())
        choices = [_choice(c, types) for c in configs]
        if args.config:
            config = next((c for c in choices if args.config in (c.config_id, c.resource_name)), None)
            if config is None:
                raise PreflightError(
                    f"Config {args.config!r} is not compatible with {model.name or model.id}. Compatible: "
                    + (", ".join(c.config_id for c in choices) or "none")
                    + "."
                )
        else:
            fitting = [
                c
                for c in choices
                if needed is None or c.memory_gib is None or c.memory_gib >= needed * _SERVING_OVERHEAD
            ]
            if not fitting:
                have = (
                    ", ".join(f"{c.instance_type} ({c.memory_gib} GiB)" for c in choices)
                    or "no configs at all"
                )
                raise PreflightError(
                    f"No compatible config has memory for {model.name or model.id} (about "
                    f"{(needed or 0) * _SERVING_OVERHEAD:.1f} GiB to serve); compatible: {have}. Serve a smaller model, "
                    "or pass config= to try one anyway."
                )
            # An unknown price is not a low one: priced configs first, then the cheapest.
            fitting.sort(
                key=lambda c: (
                    c.usd_per_hour if c.usd_per_hour is not None else float("inf"),
                    c.memory_gib or 0.0,
                )
            )
            config, others = fitting[0], fitting[1:4]
    hourly = None
    if config is not None and config.usd_per_hour is not None:
        hourly = config.usd_per_hour * args.max_replicas
    if not backend.costs_money:
        hourly = 0.0
    hours = max(1.0, args.inactive_timeout / 60) if args.inactive_timeout else 24.0
    estimate = (hourly or 0.0) * hours
    spending = _check_spending(backend, ledger, estimate, hourly, limits)
    name = args.endpoint_name or _endpoint_name(job, model)
    request = {
        "model": resource,
        "config": config.resource_name if config else None,
        "attach_to": attach_to,
        "minReplicas": args.min_replicas,
        "maxReplicas": args.max_replicas,
        "inactiveTimeout": args.inactive_timeout,
        "endpoint": name,
    }
    print_ = fingerprint(backend.base_url, request)
    plan_hash = hashlib.sha256(
        json.dumps({**request, "backend": backend.base_url, "hourly": hourly}, sort_keys=True).encode()
    ).hexdigest()
    plan = DeployPlan(
        backend=backend.kind,
        backend_url=backend.base_url,
        costs_money=backend.costs_money,
        job_id=job.id if job else None,
        model_id=model.id,
        model_name=model.name,
        model_resource=resource,
        is_adapter=is_adapter,
        base_model=model.base_model,
        lora=args.lora,
        needed_gib=round(needed * _SERVING_OVERHEAD, 2) if needed is not None else None,
        config=config,
        attach_to=attach_to,
        other_configs=others,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        inactive_timeout=args.inactive_timeout,
        endpoint_name=name,
        usd_per_hour=hourly,
        estimate_usd=estimate,
        limits=limits,
        spending=spending,
        request=request,
        fingerprint=print_,
        plan_hash=plan_hash,
        summary="",
    )
    plan.summary = _summary(plan)
    return plan


async def _attach_target(backend: Backend, project: Project, adapter: RegistryModel) -> str:
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


def _check_spending(
    backend: Backend, ledger: Ledger, estimate: float, hourly: float | None, limits: SpendingLimits
) -> list[str]:
    """Apply the spending limits to the cost until auto-stop; local serving costs nothing."""
    if not backend.costs_money:
        return []
    return ledger.check_limits(
        estimate if hourly is not None else None,
        limits,
        what="this deployment (until auto-stop)",
        smaller="Use fewer replicas, a shorter inactive_timeout or a cheaper config",
    )


def _summary(plan: DeployPlan) -> str:
    what = plan.model_name or plan.model_id
    if plan.lora == "attach":
        lines = [
            f"Attach adapter {what} to the running deployment {plan.attach_to} of its base {plan.base_model}."
        ]
    else:
        assert plan.config is not None
        lines = [
            f"Deploy {what} as endpoint {plan.endpoint_name!r} on {plan.config.instance_type or plan.config.config_id}"
            + (f" ({plan.config.memory_gib:g} GiB" if plan.config.memory_gib else " (")
            + (f"; needs about {plan.needed_gib:g} GiB)" if plan.needed_gib else ")")
            + f", {plan.min_replicas}–{plan.max_replicas} replica(s).",
        ]
    if plan.costs_money:
        hourly = (
            f"${plan.usd_per_hour:,.2f}/hour" if plan.usd_per_hour is not None else "an unknown hourly price"
        )
        lines.append(f"Cost: {hourly} while it runs (price × max replicas).")
    else:
        lines.append("Serves on this machine: it costs nothing.")
    lines.append(
        f"Auto-stop after {plan.inactive_timeout} idle minutes."
        if plan.inactive_timeout
        else "Auto-stop is off: it runs until stopped."
    )
    lines.extend(plan.spending)
    lines.append("Deploy it?")
    return "\n".join(lines)


async def deploy(
    plan: DeployPlan,
    *,
    backend: Backend,
    ledger: Ledger,
    wait_seconds: float = 0,
    progress: Progress | None = None,
) -> DeployResult:
    """Carry out the plan; roll back what this call created if any step fails."""
    project = await backend.project()
    client = backend.client
    # Every deploy is a new one (no 24 h reuse: the last one may be deleted by now), but never two at once.
    row = ledger.claim(
        "deployment",
        plan.fingerprint,
        plan.backend_url,
        plan.request,
        plan.estimate_usd,
        force_new=True,
        limits=plan.limits if backend.costs_money else None,
    ).row_id
    if plan.lora == "attach":
        assert plan.attach_to is not None
        ep_id, dep_id = plan.attach_to.split("/", 1)
        revision = (
            plan.model_resource.split("/revisions/")[1] if "/revisions/" in plan.model_resource else None
        )
        try:
            try:
                adapter = await client.attach_adapter(
                    project.id, ep_id, dep_id, plan.model_id, adapter_revision_id=revision
                )
            except RequestOutcomeUnknown:
                # The answer was lost: it may be attached (and serving). Find it by its model to keep or roll back.
                attached = [
                    a
                    for a in await client.list_adapters(project.id, ep_id, dep_id)
                    if a.adapter_model_id == plan.model_id
                ]
                if not attached:
                    raise
                adapter = attached[0]
        except TogetherAPIError:
            ledger.fail(row)
            raise
        try:
            endpoint = await client.retrieve_endpoint(project.id, ep_id)
            ready = await _wait_adapter(backend, project, ep_id, dep_id, adapter.id, wait_seconds, progress)
        except BaseException:
            ledger.fail(row)
            with anyio.CancelScope(shield=True):
                try:
                    await client.detach_adapter(
                        project.id, ep_id, dep_id, adapter.id, etag=adapter.etag or ""
                    )
                except TogetherAPIError as exc:
                    log.warning("rollback of a failed attach did not finish: %s", exc)
            raise
        ledger.finish(row, adapter.id)
        # The engine routes an attached adapter by its registry name; Together documents no name (ref §7 #2).
        name = plan.model_name if backend.kind == "local" and plan.model_name else endpoint.name or ep_id
        return _result(
            plan,
            endpoint,
            name,
            dep_id,
            ready,
            adapter_id=adapter.id,
            reused=True,
            state="ADAPTER_LOAD_STATE_READY" if ready else "ADAPTER_LOAD_STATE_LOADING",
        )
    assert plan.config is not None
    created_endpoint: Endpoint | None = None
    created_dep: Deployment | None = None
    try:
        try:
            endpoint = created_endpoint = await client.create_endpoint(project.id, plan.endpoint_name)
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
        body = DeploymentCreate(
            name=f"{plan.endpoint_name}-{int(time.time()) % 100000}",
            model=plan.model_resource,
            config=plan.config.resource_name,
            autoscaling=AutoscalingSpec(min_replicas=plan.min_replicas, max_replicas=plan.max_replicas),
            inactive_timeout=plan.inactive_timeout,
        )
        try:
            created_dep = await client.create_deployment(project.id, endpoint.id, body)
        except RequestOutcomeUnknown:
            # The answer was lost: the deployment may exist and bill. Find it by its name to keep or roll back.
            named = [
                d
                for d in await client.list_deployments(project.id, endpoint.id)
                if _bare(d.name or "") == body.name
            ]
            if not named:
                raise
            created_dep = named[0]
        endpoint = await client.retrieve_endpoint(project.id, endpoint.id)
        split = [e for e in endpoint.traffic_split if e.deployment_id != created_dep.id]
        split.append(TrafficSplitEntry(deployment_id=created_dep.id, weight=1.0))
        endpoint = await client.set_traffic_split(project.id, endpoint.id, split, etag=endpoint.etag)
    except BaseException as exc:
        ledger.fail(row)
        with anyio.CancelScope(shield=True):
            removed = await _rollback(
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
    ledger.finish(row, created_dep.id)
    dep = await wait_ready(backend, project, endpoint.id, created_dep.id, wait_seconds, progress)
    if dep.status is not None and dep.status.is_failed:
        # It never ran: its estimate no longer counts against the daily limit, whatever the rollback does.
        ledger.fail(row)
        message = (dep.status.message or "no message")[:300]
        with anyio.CancelScope(shield=True):
            removed = await _rollback(
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
    return _result(
        plan,
        endpoint,
        endpoint.name or endpoint.id,
        dep.id,
        dep.status is not None and dep.status.is_ready,
        reused=created_endpoint is None,
        state=dep.state,
    )


def _result(
    plan: DeployPlan,
    endpoint: Endpoint,
    name: str,
    dep_id: str | None,
    ready: bool,
    *,
    reused: bool,
    state: str | None,
    adapter_id: str | None = None,
) -> DeployResult:
    base = plan.backend_url.rstrip("/")
    key_env = "TOGETHER_API_KEY" if plan.costs_money else "BYOM_ENGINE_API_KEY"
    python = (
        "import os\nfrom together import Together\n"
        f"client = Together(base_url={base!r}, api_key=os.environ[{key_env!r}])\n"
        f"reply = client.chat.completions.create(model={name!r}, messages=[{{'role': 'user', 'content': 'Hello'}}])\n"
        "print(reply.choices[0].message.content)"
    )
    curl = (
        f"curl {base}/v1/chat/completions -H \"Authorization: Bearer ${key_env}\" -H 'Content-Type: application/json' "
        f"-d '{json.dumps({'model': name, 'messages': [{'role': 'user', 'content': 'Hello'}]})}'"
    )
    nxt = (
        f"Ready: call it with model={name!r}. manage_endpoint(endpoint={endpoint.id!r}, action='stop') stops billing."
        if ready
        else f"Starting: manage_endpoint(endpoint={endpoint.id!r}, action='status') shows when it is READY."
    )
    return DeployResult(
        endpoint_name=name,
        endpoint_id=endpoint.id,
        deployment_id=dep_id,
        adapter_id=adapter_id,
        state=state,
        ready=ready,
        reused_endpoint=reused,
        usd_per_hour=plan.usd_per_hour,
        auto_stop_minutes=plan.inactive_timeout,
        python=python,
        curl=curl,
        next_step=nxt,
    )


async def _rollback(
    backend: Backend,
    project: Project,
    endpoint: Endpoint | None,
    dep: Deployment | None,
    *,
    endpoint_reused: bool,
) -> bool:
    """Undo this call's creations, newest first; whether it finished. A failure here is logged, never hides
    the original error."""
    client = backend.client
    try:
        if dep is not None:
            ep_id = dep.endpoint_id or (endpoint.id if endpoint else None)
            if ep_id:
                current = await client.retrieve_endpoint(project.id, ep_id)
                rest = [e for e in current.traffic_split if e.deployment_id != dep.id]
                if len(rest) != len(current.traffic_split):
                    await client.set_traffic_split(project.id, ep_id, rest, etag=current.etag)
                await client.delete_deployment(project.id, ep_id, dep.id)
        if endpoint is not None and not endpoint_reused:
            await client.delete_endpoint(project.id, endpoint.id)
    except (TogetherAPIError, OSError) as exc:
        log.warning("rollback after a failed deploy did not finish: %s", exc)
        return False
    return True


async def wait_ready(
    backend: Backend,
    project: Project,
    ep_id: str,
    dep_id: str,
    wait_seconds: float,
    progress: Progress | None,
) -> Deployment:
    """The deployment once READY or FAILED, or as it is when ``wait_seconds`` run out."""
    client = backend.client
    deadline = time.monotonic() + max(0.0, wait_seconds)
    tick = 0
    while True:
        dep = await client.retrieve_deployment(project.id, ep_id, dep_id)
        if dep.status is not None and (dep.status.is_ready or dep.status.is_failed):
            return dep
        if time.monotonic() >= deadline:
            return dep
        tick += 1
        if progress is not None:
            await progress(tick, None, f"deployment {dep.state or 'starting'}")
        await anyio.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))


async def _wait_adapter(
    backend: Backend,
    project: Project,
    ep_id: str,
    dep_id: str,
    adapter_id: str,
    wait_seconds: float,
    progress: Progress | None,
) -> bool:
    deadline = time.monotonic() + max(0.0, wait_seconds)
    tick = 0
    while True:
        adapter = await backend.client.retrieve_adapter(project.id, ep_id, dep_id, adapter_id)
        states = {c.state for c in adapter.per_cluster or []}
        if "ADAPTER_LOAD_STATE_READY" in states:
            return True
        if "ADAPTER_LOAD_STATE_FAILED" in states:
            raise PreflightError(
                "The adapter failed to load on the deployment: "
                + "; ".join((c.message or c.reason or "no message")[:200] for c in adapter.per_cluster or [])
            )
        if time.monotonic() >= deadline:
            return False
        tick += 1
        if progress is not None:
            await progress(tick, None, "adapter loading")
        await anyio.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))
