"""deploy_endpoint's rollback: any failure after a create removes what this call created, and only that.

The backend is the real engine app (with its lifespan: deployments really load) behind ``FaultTransport``; the
weights are the session's tiny model, registered straight into the engine's registry (what a completed job
does: the rollback never looks at the job, and training one would cost this file half a minute). What remains
is read back through the engine's own v2 API, not through byom-mcp.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from byom.config import Settings
from byom.engine.deploy.registry import register_model
from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import PID, P, make_adapter, register_tiny, wait_deployment
from support.faults import FaultTransport, answer, lose_answer
from support.spends import spends
from support.tool_calls import call_error

pytestmark = pytest.mark.anyio

ENDPOINTS = f"{P}/endpoints"
DEPLOYMENTS = f"{ENDPOINTS}/*/deployments"  # the endpoint's id is the engine's to choose
CPU = f"projects/{PID}/configs/cr_local_cpu"
DYNAMIC = f"projects/{PID}/configs/cr_local_cpu_dynamic"
NO_RETRY = {"x-should-retry": "false"}  # a 5xx the client must not send again (no backoff to sit through)


@pytest.fixture
def faults(engine_transport: tuple[httpx2.ASGITransport, EngineState]) -> FaultTransport:
    return FaultTransport(engine_transport[0])


@pytest.fixture
def http(engine: tuple[httpx2.AsyncClient, EngineState]) -> httpx2.AsyncClient:
    """The engine's own API, beside byom-mcp and past every fault: what really exists."""
    return engine[0]


@pytest.fixture
def model_id(engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path) -> str:
    return register_tiny(engine[1], tiny_model).id


def client(settings: Settings, faults: FaultTransport) -> Client:
    """Confirmation is not the point here: BYOM_AUTO_CONFIRM=1."""
    return Client(build_server(settings.model_copy(update={"auto_confirm": True}), transport=faults))


async def inventory(http: httpx2.AsyncClient) -> dict[str, list[str]]:
    """Every endpoint id → the ids of its deployments."""
    found: dict[str, list[str]] = {}
    for ep in (await http.get(ENDPOINTS)).json()["data"]:
        deps = (await http.get(f"{ENDPOINTS}/{ep['id']}/deployments")).json()["data"]
        found[ep["id"]] = sorted(d["id"] for d in deps)
    return found


async def deploy_on(http: httpx2.AsyncClient, ep_id: str, model_id: str, config: str = CPU) -> str:
    body = {
        "name": "first",
        "model": f"projects/{PID}/models/{model_id}",
        "config": config,
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
    }
    created = await http.post(f"{ENDPOINTS}/{ep_id}/deployments", json=body)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def states(settings: Settings) -> list[str]:
    """The ledger row of each deploy_endpoint call: ``failed`` once its rollback ran, never ``sending``."""
    return [state for state, _ in spends(settings)]


def corrupt(path: Path) -> None:
    path.write_bytes(b"\x00not safetensors\x00" * 64)


# ---- 1. the deployment create fails: the new endpoint goes ------------------------------------------


async def test_a_refused_deployment_create_removes_the_new_endpoint_and_fails_the_ledger_row(
    byom_settings: Settings, faults: FaultTransport, http: httpx2.AsyncClient, model_id: str
) -> None:
    faults.inject("POST", DEPLOYMENTS, answer(500, message="no capacity in the zone"))
    async with client(byom_settings, faults) as c:
        text = await call_error(c, "deploy_endpoint", {"model": model_id, "endpoint_name": "rb-create"})
    assert "500" in text and "no capacity in the zone" in text, text
    assert faults.count("POST", ENDPOINTS) == 1  # the endpoint was made, then removed
    assert await inventory(http) == {}
    assert states(byom_settings) == ["failed"]


# ---- 2. the traffic split fails, refused or applied with its answer lost -----------------------------


@pytest.mark.parametrize(
    "fault",
    [answer(500, message="split refused"), lose_answer(httpx2.ReadError)],
    ids=["refused", "applied-answer-lost"],
)
async def test_a_failed_traffic_split_removes_the_deployment_and_the_endpoint(
    byom_settings: Settings, faults: FaultTransport, http: httpx2.AsyncClient, model_id: str, fault: Any
) -> None:
    faults.inject("PATCH", f"{ENDPOINTS}/*", fault)
    async with client(byom_settings, faults) as c:
        text = await call_error(c, "deploy_endpoint", {"model": model_id, "endpoint_name": "rb-split"})
    assert "split refused" in text or "nothing of it is left running or billing" in text, text
    assert "Fetch the endpoint" not in text, text  # the rollback already looked: no stale advice
    assert [s.method for s in faults.sent if s.path.endswith("/deployments")] == ["POST"]
    assert await inventory(http) == {}
    assert states(byom_settings) == ["failed"]


# ---- 3. the deployment starts, then fails to load ---------------------------------------------------


async def test_a_deployment_that_fails_to_load_is_removed_and_the_tool_says_so(
    byom_settings: Settings,
    faults: FaultTransport,
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
    tmp_path: Path,
) -> None:
    http, state = engine
    weights = shutil.copytree(tiny_model, tmp_path / "broken")
    broken = register_tiny(state, weights, name="broken-ft").id
    corrupt(weights / "model.safetensors")  # registered whole, unreadable by the time it is served
    async with client(byom_settings, faults) as c:
        text = await call_error(
            c, "deploy_endpoint", {"model": broken, "endpoint_name": "rb-load", "wait_seconds": 45}
        )
    assert "The deployment failed to start" in text and "What this call created was removed" in text, text
    assert await inventory(http) == {}
    # Nothing of it runs or will bill: its estimate must not count against BYOM_MAX_USD_PER_DAY any more.
    assert states(byom_settings) == ["failed"]


# ---- 4. a reused endpoint stays: only this call's deployment goes -----------------------------------


async def test_the_rollback_keeps_a_reused_endpoint_and_its_deployment_and_split(
    byom_settings: Settings, faults: FaultTransport, http: httpx2.AsyncClient, model_id: str
) -> None:
    ep = (await http.post(ENDPOINTS, json={"name": "rb-reuse"})).json()
    first = await deploy_on(http, ep["id"], model_id)  # the same model: deploy_endpoint reuses the endpoint
    split_before = (await http.get(f"{ENDPOINTS}/{ep['id']}")).json()["trafficSplit"]
    assert [e["deploymentId"] for e in split_before] == [first]
    faults.inject("PATCH", f"{ENDPOINTS}/{ep['id']}", lose_answer(httpx2.ReadError))  # applied, then lost
    async with client(byom_settings, faults) as c:
        text = await call_error(c, "deploy_endpoint", {"model": model_id, "endpoint_name": "rb-reuse"})
    assert "may have reached the server" in text, text
    assert faults.count("POST", f"{ENDPOINTS}/{ep['id']}/deployments") == 1  # it did make one
    assert await inventory(http) == {ep["id"]: [first]}
    assert (await http.get(f"{ENDPOINTS}/{ep['id']}")).json()["trafficSplit"] == split_before
    assert faults.count("DELETE", f"{ENDPOINTS}/{ep['id']}") == 0
    assert states(byom_settings) == ["failed"]


# ---- 5. a rollback that fails itself ---------------------------------------------------------------


async def test_a_failing_rollback_is_logged_and_the_original_error_is_what_the_tool_says(
    byom_settings: Settings,
    faults: FaultTransport,
    http: httpx2.AsyncClient,
    model_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults.inject("PATCH", f"{ENDPOINTS}/*", answer(500, message="split refused"))
    faults.inject("DELETE", f"{DEPLOYMENTS}/*", answer(500, headers=NO_RETRY, message="delete refused"))
    with caplog.at_level(logging.WARNING, logger="byom.endpoints.deploy"):
        async with client(byom_settings, faults) as c:
            text = await call_error(c, "deploy_endpoint", {"model": model_id, "endpoint_name": "rb-stuck"})
    assert "split refused" in text and "delete refused" not in text, text
    rollback = [r.getMessage() for r in caplog.records if "rollback" in r.getMessage()]
    assert len(rollback) == 1 and "delete refused" in rollback[0], rollback
    # What could not be removed is still there (manage_endpoint can delete it); the ledger says it failed.
    ((ep_id, deps),) = (await inventory(http)).items()
    assert len(deps) == 1
    assert deps[0] in rollback[0] or ep_id in rollback[0], rollback
    assert states(byom_settings) == ["failed"]


async def test_a_failed_start_whose_rollback_fails_does_not_claim_it_was_removed(
    byom_settings: Settings,
    faults: FaultTransport,
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
    tmp_path: Path,
) -> None:
    http, state = engine
    weights = shutil.copytree(tiny_model, tmp_path / "broken")
    broken = register_tiny(state, weights, name="broken-ft").id
    corrupt(weights / "model.safetensors")
    faults.inject("DELETE", f"{DEPLOYMENTS}/*", answer(500, headers=NO_RETRY, message="delete refused"))
    async with client(byom_settings, faults) as c:
        text = await call_error(
            c, "deploy_endpoint", {"model": broken, "endpoint_name": "rb-load", "wait_seconds": 45}
        )
    assert "The deployment failed to start" in text, text
    assert "was removed" not in text and "manage_endpoint" in text, text
    ((ep_id, deps),) = (await inventory(http)).items()
    assert len(deps) == 1 and (deps[0] in text or ep_id in text), text


# ---- 6. attach mode: the attachment this call made is detached --------------------------------------


@pytest.mark.parametrize("answer_lost", [False, True], ids=["answered", "attach-answer-lost"])
async def test_an_adapter_that_fails_to_load_is_detached_and_its_base_keeps_serving(
    byom_settings: Settings,
    faults: FaultTransport,
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
    tmp_path: Path,
    answer_lost: bool,
) -> None:
    """Also when the attach's answer is lost: the adapter it made is found by its model and detached."""
    http, state = engine
    base = register_tiny(state, tiny_model, name="tiny-base")
    lora = make_adapter(tiny_model, tmp_path / "lora")
    adapter = register_model(
        state.db,
        project_id=PID,
        project_slug="local",
        name="tiny-base-adapter",
        kind="adapter",
        path=lora,
        base_model_id=base.id,
    ).id
    corrupt(lora / "adapter_model.safetensors")
    ep = (await http.post(ENDPOINTS, json={"name": "rb-base"})).json()
    dep = await deploy_on(http, ep["id"], base.id, config=DYNAMIC)
    assert (await wait_deployment(http, ep["id"], dep))["status"]["state"] == "DEPLOYMENT_STATE_READY"
    adapters = f"{ENDPOINTS}/{ep['id']}/deployments/{dep}/adapters"
    if answer_lost:
        faults.inject("POST", adapters, lose_answer(httpx2.ReadError))
    async with client(byom_settings, faults) as c:
        text = await call_error(
            c, "deploy_endpoint", {"model": adapter, "lora": "attach", "wait_seconds": 45}
        )
    assert "The adapter failed to load" in text, text
    assert faults.count("POST", adapters) == 1  # it was attached, then detached
    assert (await http.get(adapters)).json()["data"] == []
    assert await inventory(http) == {ep["id"]: [dep]}
    status = (await http.get(f"{ENDPOINTS}/{ep['id']}/deployments/{dep}")).json()["status"]
    assert status["state"] == "DEPLOYMENT_STATE_READY"
    assert states(byom_settings) == ["failed"]
