"""From a completed fine-tune to an endpoint that answers (ref 2026-11 §3.12–3.13).

    plan_deploy:  the job is completed and has registry ids → the registry model → configs compatible with
                  its base → the cheapest config whose instance type holds the model (or the one asked for)
                  → the hourly cost and auto-stop → a plan to confirm
    deploy:       endpoint (reused on 409) → deployment → traffic split → (wait for READY); any failure
                  rolls back what this call created → once READY, one completion through the route and key
                  the snippets use (calling.py): READY to the user only if it answered

LoRA: ``merge`` deploys the adapter model itself on a config of its base (the API merges it); ``attach``
loads the adapter onto a running deployment of its base whose config accepts adapters. The base is the
adapter's registry ``baseModel``: an adapter trained from a custom ``from_hf_model`` belongs to those
weights and is never attached to the template's base.
"""

from __future__ import annotations

import re

from byom.backend import Backend, Project
from byom.confirmed import Progress, check_spending
from byom.endpoints.attach import attach, attach_target
from byom.endpoints.calling import Caller, check_call
from byom.endpoints.create import create_serving
from byom.endpoints.serving import ConfigChoice, DeployArgs, DeployPlan, DeployResult, bare, next_step
from byom.errors import PreflightError
from byom.ledger import Ledger, SpendingLimits, fingerprint
from byom.together import FinetuneResponse, InstanceType, RegistryModel, ServingConfig

__all__ = ["deploy", "plan_deploy"]

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


def _endpoint_name(job: FinetuneResponse | None, model: RegistryModel) -> str:
    # ft-<uuid> → its first 8 hex digits: short, still one job's, and two jobs with one suffix never collide.
    if job is not None:
        short = job.id.removeprefix("ft-")[:8]
        base = f"{job.suffix}-{short}" if job.suffix else short
    else:
        base = bare(model.name or model.id)
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


_STOPPED = ("DEPLOYMENT_STATE_STOPPED", "DEPLOYMENT_STATE_FAILED")


async def _not_served_already(backend: Backend, project: Project, name: str, resource: str) -> None:
    """Refuse a deploy by default name that would add a second deployment of the same weights to the endpoint that
    already serves them: a trial's user asked again for the Python snippet and got a duplicate (on Together, billed
    twice). Naming the endpoint explicitly still adds one (a rollout of a new revision, more capacity)."""
    found = await backend.client.list_endpoints(project.id, name=name)
    same = [
        d
        for endpoint in found
        for d in endpoint.deployments
        if (d.model or "").split("/revisions/")[0] == resource.split("/revisions/")[0]
    ]
    if not same:
        return
    endpoint = found[0].name or name
    running = [d for d in same if d.state not in _STOPPED]
    if running:
        raise PreflightError(
            f"Endpoint {endpoint} already serves this model ({running[0].name or running[0].id}, "
            f"{running[0].state or 'state unknown'}): nothing was created. Call it with model={endpoint!r} "
            f"(ask_model(model={endpoint!r}) tries it; manage_endpoint(endpoint={endpoint!r}) shows its state). "
            f"To add a deployment on purpose (a new revision, more capacity; billed too), pass "
            f"endpoint_name={name!r}; for a separate endpoint, another name."
        )
    raise PreflightError(
        f"Endpoint {endpoint} already has this model, stopped: nothing was created. Start it with "
        f"manage_endpoint(endpoint={endpoint!r}, action='start') instead of deploying it again."
    )


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
        attach_to = await attach_target(backend, project, model)
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
    hourly = hourly_min = None
    if config is not None and config.usd_per_hour is not None:
        hourly = config.usd_per_hour * args.max_replicas
        hourly_min = config.usd_per_hour * args.min_replicas
    if not backend.costs_money:
        hourly = hourly_min = 0.0
    hours = max(1.0, args.inactive_timeout / 60) if args.inactive_timeout else 24.0
    estimate = (hourly or 0.0) * hours
    spending = check_spending(
        backend,
        ledger,
        estimate if hourly is not None else None,
        limits,
        what="this deployment (until auto-stop)",
        smaller="Use fewer replicas, a shorter inactive_timeout or a cheaper config",
    )
    name = args.endpoint_name or _endpoint_name(job, model)
    if args.endpoint_name is None:  # a name given is a deliberate choice (a new revision, more capacity)
        await _not_served_already(backend, project, name, resource)
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
    return DeployPlan(
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
        call_as=f"{project.slug}/{name}" if project.slug and "/" not in name else name,
        usd_per_hour=hourly,
        usd_per_hour_min=hourly_min,
        estimate_usd=estimate,
        limits=limits,
        spending=spending,
        request=request,
        fingerprint=print_,
        dry_run=args.dry_run,
    )


async def deploy(
    plan: DeployPlan,
    *,
    backend: Backend,
    ledger: Ledger,
    wait_seconds: float = 0,
    progress: Progress | None = None,
) -> DeployResult:
    """Carry out the plan; roll back what this call created if any step fails; once READY, prove it answers."""
    project = await backend.project()
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
    run = attach if plan.lora == "attach" else create_serving
    done = await run(
        plan,
        backend=backend,
        project=project,
        ledger=ledger,
        row=row,
        wait_seconds=wait_seconds,
        progress=progress,
    )
    if not done.ready:
        return done
    # Not rolled back when it fails: the deployment is up, and the reason is often the caller's key.
    check = await check_call(Caller.of(backend), done.endpoint_name, backend)
    step = next_step(done.endpoint_name, done.endpoint_id, check.ok, check)
    return done.model_copy(update={"check": check, "ready": check.ok, "next_step": step})
