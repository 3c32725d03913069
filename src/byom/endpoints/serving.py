"""What a deploy is: its arguments, its plan (what the user confirms), and its result (what the caller gets)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from byom.confirmed import ConfirmedPlan
from byom.ledger import SpendingLimits
from byom.together import Endpoint

__all__ = ["ConfigChoice", "DeployArgs", "DeployPlan", "DeployResult", "bare", "served"]


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
    usd_per_hour: float | None
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
    python: str
    curl: str
    next_step: str


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


def served(
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
