"""plan_deploy and deploy as plain functions: the plan binds what it shows, and a deploy serves."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from byom.backend import Backend, connect
from byom.confirmed import plan_hash
from byom.endpoints import DeployArgs, deploy, plan_deploy
from byom.engine.state import EngineState
from byom.errors import JobNotFound, PreflightError, RegistryModelNotFound
from byom.ledger import Ledger
from support.engine import KEY, keyed_settings

pytestmark = pytest.mark.anyio


async def test_a_plan_is_computed_from_itself_and_binds_its_request_and_price(
    backend: Backend, ledger: Ledger, model_id: str
) -> None:
    args = DeployArgs(model=model_id, endpoint_name="unit-plan")
    plan = await plan_deploy(args, backend=backend, ledger=ledger)
    assert plan.config is not None and plan.lora == "merge"
    assert plan.plan_hash == plan_hash(plan.fingerprint, plan.usd_per_hour)
    assert plan.summary.startswith(f"Deploy {plan.model_name or model_id} as endpoint 'unit-plan'")
    # The name requests will use, as the deploy's result then says it (trial D saw two names for one endpoint).
    assert plan.call_as == "local/unit-plan" and "(called as model 'local/unit-plan')" in plan.summary
    assert plan.summary.endswith("Deploy it?")
    again = await plan_deploy(args, backend=backend, ledger=ledger)
    assert again.plan_hash == plan.plan_hash  # a plan is a pure function of its inputs: what a token binds
    other = await plan_deploy(args.model_copy(update={"max_replicas": 2}), backend=backend, ledger=ledger)
    assert other.plan_hash != plan.plan_hash
    # What a tool's output validation does to it: the computed fields come back the same.
    assert type(plan).model_validate(plan.model_dump(mode="json")) == plan


async def test_a_deploy_serves_and_finishes_its_ledger_row(
    backend: Backend, ledger: Ledger, model_id: str
) -> None:
    plan = await plan_deploy(
        DeployArgs(model=model_id, endpoint_name="unit-serve"), backend=backend, ledger=ledger
    )
    done = await deploy(plan, backend=backend, ledger=ledger, wait_seconds=30)
    assert done.ready and done.state == "DEPLOYMENT_STATE_READY", done
    assert done.endpoint_name == "local/unit-serve" and not done.reused_endpoint
    row = ledger.recent("deployment", plan.fingerprint)
    assert row is not None and row.state == "created" and row.resource_id == done.deployment_id


async def test_deploying_a_model_its_endpoint_already_serves_creates_nothing_and_says_how_to_call_it(
    backend: Backend, ledger: Ledger, model_id: str
) -> None:
    """A trial's user asked again for the Python snippet and deploy_endpoint quietly added a second deployment of
    the same weights (on Together, billed twice). Now the plan refuses, naming the endpoint to call."""
    args = DeployArgs(model=model_id)  # the default name, as the trial's assistant called it
    plan = await plan_deploy(args, backend=backend, ledger=ledger)
    done = await deploy(plan, backend=backend, ledger=ledger, wait_seconds=30)
    assert done.ready, done
    with pytest.raises(PreflightError, match="already serves this model") as refused:
        await plan_deploy(args, backend=backend, ledger=ledger)
    said = str(refused.value)
    assert f"model='local/{plan.endpoint_name}'" in said and f"endpoint_name='{plan.endpoint_name}'" in said
    project = await backend.project()
    (endpoint,) = await backend.client.list_endpoints(project.id, name=plan.endpoint_name)
    assert len(endpoint.deployments) == 1
    # Naming the endpoint is a deployment added on purpose (a new revision, more capacity): planned as usual.
    again = await plan_deploy(
        DeployArgs(model=model_id, endpoint_name=plan.endpoint_name), backend=backend, ledger=ledger
    )
    assert again.endpoint_name == plan.endpoint_name


async def test_unknown_ids_are_the_clients_typed_not_found_with_the_next_step(
    backend: Backend, ledger: Ledger
) -> None:
    with pytest.raises(JobNotFound, match="list_jobs"):
        await plan_deploy(DeployArgs(job_id="ft-nope"), backend=backend, ledger=ledger)
    with pytest.raises(RegistryModelNotFound, match="no model ml_nope"):
        await plan_deploy(DeployArgs(model="ml_nope"), backend=backend, ledger=ledger)


async def test_attach_refuses_a_model_that_is_no_adapter(
    backend: Backend, ledger: Ledger, model_id: str
) -> None:
    with pytest.raises(PreflightError, match="not a LoRA adapter"):
        await plan_deploy(DeployArgs(model=model_id, lora="attach"), backend=backend, ledger=ledger)


async def test_a_deploy_is_ready_only_once_a_completion_came_back_the_way_its_snippets_call(
    backend: Backend, ledger: Ledger, model_id: str
) -> None:
    plan = await plan_deploy(
        DeployArgs(model=model_id, endpoint_name="unit-proof"), backend=backend, ledger=ledger
    )
    done = await deploy(plan, backend=backend, ledger=ledger, wait_seconds=30)
    assert done.ready and done.check is not None and done.check.ok, done
    assert done.check.route == f"POST {backend.base_url}/v1/chat/completions"
    # The key the server was given as BYOM_ENGINE_API_KEY: the snippets read that variable, never a value.
    assert done.check.key_from == "$BYOM_ENGINE_API_KEY" and done.check.ms is not None
    assert done.check.line().startswith("verified: one completion through POST ")
    assert "os.environ['BYOM_ENGINE_API_KEY']" in done.python and "$BYOM_ENGINE_API_KEY" in done.curl
    assert done.install == "pip install together" and done.key_file is None
    assert KEY not in done.model_dump_json()


async def test_a_key_file_that_no_longer_holds_the_engines_key_is_not_ready_and_says_which_file(
    engine_transport: tuple[httpx2.ASGITransport, EngineState], ledger: Ledger, model_id: str, tmp_path: Path
) -> None:
    settings, key_file = keyed_settings(tmp_path)
    backend = await connect(settings, transport=engine_transport[0])
    try:
        plan = await plan_deploy(
            DeployArgs(model=model_id, endpoint_name="unit-stale"), backend=backend, ledger=ledger
        )
        # The engine was restarted on another data dir since: the file the snippets read holds another key.
        key_file.write_text("a-stale-key")
        done = await deploy(plan, backend=backend, ledger=ledger, wait_seconds=30)
    finally:
        await backend.aclose()
    assert done.state == "DEPLOYMENT_STATE_READY" and not done.ready, done
    assert done.check is not None and not done.check.ok and done.key_file == str(key_file)
    assert f"does not take the key in {key_file}" in (done.check.problem or "")
    assert done.next_step.startswith("Not ready to call:") and "action='stop'" in done.next_step
    assert f"Path({str(key_file)!r}).read_text().strip()" in done.python
    assert f"$(cat {key_file})" in done.curl and "a-stale-key" not in done.model_dump_json()


async def test_a_paid_plan_states_the_hourly_cost_at_min_and_max_replicas_and_until_auto_stop(
    backend: Backend, ledger: Ledger, model_id: str
) -> None:
    # #16: "what would the endpoint cost per hour?" — the price at both ends of the autoscaling range.
    plan = await plan_deploy(
        DeployArgs(model=model_id, min_replicas=0, max_replicas=2, dry_run=True),
        backend=backend,
        ledger=ledger,
    )
    assert plan.usd_per_hour_min == plan.usd_per_hour == 0.0 and plan.dry_run
    # The same plan as Together prices it ($5.49/h an H100, ref together-2026-12.md): fields in, summary computed.
    paid = type(plan).model_validate(
        {
            **plan.model_dump(),
            "costs_money": True,
            "usd_per_hour": 10.98,
            "usd_per_hour_min": 0.0,
            "estimate_usd": 10.98,
        }
    )
    assert (
        "Cost: $0.00/hour at 0 replica(s), $10.98/hour at 2 (billed per minute while it runs" in paid.summary
    )
    assert "up to $10.98 until auto-stop." in paid.summary and paid.summary.endswith(
        "the user confirms this first."
    )
