"""What a deploy is: its arguments, its plan (what the user confirms), and its result (what the caller gets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from byom.confirmed import ConfirmedPlan
from byom.endpoints.calling import INSTALL, CallCheck, Caller
from byom.ledger import SpendingLimits

if TYPE_CHECKING:
    from byom.together import Endpoint

__all__ = ["ConfigChoice", "DeployArgs", "DeployPlan", "DeployResult", "bare", "next_step", "served"]


class DeployArgs(BaseModel):
    """``deploy_endpoint``'s arguments the plan reads (``confirm_token`` and ``wait_seconds`` excluded)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The tool's bounds, so a deploy planned without the tool refuses what the tool refuses.
    job_id: str | None = Field(None, max_length=200)
    model: str | None = Field(None, max_length=200)
    config: str | None = Field(None, max_length=300)
    min_replicas: int = Field(1, ge=0, le=16)
    max_replicas: int = Field(1, ge=1, le=16)
    inactive_timeout: int = Field(60, ge=0, le=1440)
    lora: Literal["merge", "attach"] = "merge"
    endpoint_name: str | None = Field(None, max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$")
    dry_run: bool = False


class ConfigChoice(BaseModel):
    config_id: str
    resource_name: str
    instance_type: str | None
    memory_gib: float | None
    usd_per_hour: float | None
    adapter_mode: str | None = None


class DeployPlan(ConfirmedPlan):
    backend: Literal["local", "together"]
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
    call_as: str | None = Field(
        None, description="The model name requests will use: the endpoint's name behind the project's prefix."
    )
    usd_per_hour: float | None = Field(description="$/hour at max_replicas: what a confirmation binds.")
    usd_per_hour_min: float | None = Field(None, description="$/hour at min_replicas (idle, not stopped).")
    estimate_usd: float = Field(
        description="What the spending limits count: the hourly cost until auto-stop."
    )
    limits: SpendingLimits = Field(description="The spending limits this plan is held to.")
    spending: list[str] = Field(default_factory=list)
    request: dict[str, Any] = Field(description="What will be created, as the ledger records it.")

    @property
    def bound_usd(self) -> float | None:
        return self.usd_per_hour

    def describe(self) -> str:
        return _summary(self)


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
    python: str = Field(description="Runs as it is in a fresh shell once `install` is done.")
    curl: str
    install: str = Field(description="What the Python snippet needs.")
    key_file: str | None = Field(None, description="The local engine's key file the snippets read, by path.")
    check: CallCheck | None = Field(
        None, description="The completion made through the snippets' route and key before READY was reported."
    )
    next_step: str

    @property
    def headline(self) -> str:
        """Its state, and the proof (or why there is none) once the backend said READY."""
        if self.check is None:
            return f"{self.state or 'starting'}."
        return ("READY, " if self.check.ok else f"{self.state}, ") + self.check.line()


def bare(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _summary(plan: DeployPlan) -> str:
    what = plan.model_name or plan.model_id
    if plan.lora == "attach":
        lines = [
            f"Attach adapter {what} to the running deployment {plan.attach_to} of its base {plan.base_model}."
        ]
    else:
        assert plan.config is not None
        lines = [
            f"Deploy {what} as endpoint {plan.endpoint_name!r}"
            + (
                f" (called as model {plan.call_as!r})"
                if plan.call_as and plan.call_as != plan.endpoint_name
                else ""
            )
            + f" on {plan.config.instance_type or plan.config.config_id}"
            + (f" ({plan.config.memory_gib:g} GiB" if plan.config.memory_gib else " (")
            + (f"; needs about {plan.needed_gib:g} GiB)" if plan.needed_gib else ")")
            + f", {plan.min_replicas}–{plan.max_replicas} replica(s).",
        ]
    if plan.costs_money:
        if plan.usd_per_hour is None:
            lines.append("Cost: an unknown hourly price while it runs.")
        else:
            low = plan.usd_per_hour_min if plan.usd_per_hour_min is not None else plan.usd_per_hour
            lines.append(
                f"Cost: ${low:,.2f}/hour at {plan.min_replicas} replica(s), ${plan.usd_per_hour:,.2f}/hour at "
                f"{plan.max_replicas} (billed per minute while it runs, idle or not); up to "
                f"${plan.estimate_usd:,.2f} until "
                + ("auto-stop." if plan.inactive_timeout else "a day has passed (it never auto-stops).")
            )
    else:
        lines.append("Serves on this machine: it costs nothing.")
    lines.append(
        f"Auto-stop after {plan.inactive_timeout} idle minutes."
        if plan.inactive_timeout
        else "Auto-stop is off: it runs until stopped."
    )
    lines.extend(plan.spending)
    lines.append(
        "Dry run: nothing was created or asked; without dry_run the user confirms this first."
        if plan.dry_run
        else "Deploy it?"
    )
    return "\n".join(lines)


def served(
    plan: DeployPlan,
    endpoint: Endpoint,
    name: str,
    dep_id: str | None,
    ready: bool,
    *,
    caller: Caller,
    reused: bool,
    state: str | None,
    adapter_id: str | None = None,
) -> DeployResult:
    """The result as the backend reports it; ``check`` (deploy.py) decides whether it is READY to the user."""
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
        python=caller.python(name),
        curl=caller.curl(name),
        install=INSTALL,
        key_file=str(caller.key_file) if caller.key_file is not None else None,
        next_step=next_step(name, endpoint.id, ready, None),
    )


def next_step(name: str, endpoint_id: str, ready: bool, check: CallCheck | None) -> str:
    stop = f"manage_endpoint(endpoint={endpoint_id!r}, action='stop') stops it"
    if check is not None and not check.ok:
        return f"Not ready to call: {check.problem} Until then, {stop}."
    if ready:
        return f"Ready: call it with model={name!r}. {stop}."
    return f"Starting: manage_endpoint(endpoint={endpoint_id!r}, action='status') shows when it is READY."
