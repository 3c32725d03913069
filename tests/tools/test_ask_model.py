"""ask_model through a real MCP client and the real engine over ASGI: an endpoint, a finished local job with no
endpoint (served on demand), and a "Together" job tried here. Together is a second real engine standing in for
it (its own data dir and registry, reached at together.test); the local engine is another one (127.0.0.1)."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.app import create_app
from byom.engine.state import EngineState
from byom.server import build_server
from byom.tools import AppState
from support.engine import BASE_URL, KEY, PID, P, job_body, make_state, register_tiny, upload, wait_job
from support.faults import FaultTransport, HostRoutes, answer
from support.poll import until
from support.tool_calls import call_error, call_ok, text_of

pytestmark = pytest.mark.anyio

TOGETHER_URL = "http://together.test"
QUESTION = "What do bees make?"
DOWNLOAD = "/v1/finetune/download"


def _asked(result: dict[str, Any]) -> None:
    """An answer with its measured latency and token counts."""
    assert result["status"] == "answered", result
    assert result["latency_s"] is not None and result["latency_s"] >= 0
    assert result["prompt_tokens"] > 0 and result["completion_tokens"] > 0
    assert isinstance(result["answer"], str)


async def test_ask_model_answers_through_an_endpoint(
    jobs_server: MCPServer[AppState],
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
) -> None:
    client, state = engine
    model = register_tiny(state, tiny_model, name="bees")
    ep = (await client.post(f"{P}/endpoints", json={"name": "bees-ep"})).json()
    body = {
        "name": "d1",
        "model": f"projects/{PID}/models/{model.id}",
        "config": f"projects/{PID}/configs/cr_local_cpu",
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
    }
    dep = await client.post(f"{P}/endpoints/{ep['id']}/deployments", json=body)
    assert dep.status_code == 200, dep.text

    async def ready() -> bool:
        got = (await client.get(f"{P}/endpoints/{ep['id']}/deployments/{dep.json()['id']}")).json()
        return bool(got["status"]["state"] == "DEPLOYMENT_STATE_READY")

    await until(ready, "the deployment to be READY")
    async with Client(jobs_server) as mcp:
        result = await mcp.call_tool(
            "ask_model", {"model": "local/bees-ep", "prompt": QUESTION, "max_tokens": 4, "temperature": 0}
        )
    assert not result.is_error, text_of(result)
    answered = dict(result.structured_content or {})
    _asked(answered)
    assert answered["completion_tokens"] <= 4  # max_tokens holds
    text = text_of(result)
    assert "```untrusted-model-output" in text and "completion tokens" in text
    assert not state.deploy.on_demand._entries  # the endpoint's deployment answered: nothing loaded on demand


async def test_a_registered_model_with_no_endpoint_answers_on_demand(
    jobs_server: MCPServer[AppState],
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
) -> None:
    client, state = engine
    register_tiny(state, tiny_model, name="no-endpoint")
    async with Client(jobs_server) as mcp:
        answered = await call_ok(
            mcp, "ask_model", {"model": "local/no-endpoint", "prompt": QUESTION, "max_tokens": 3}
        )
    _asked(answered)
    assert (await client.get(f"{P}/endpoints")).json()["data"] == []  # nothing was deployed


async def test_ask_model_needs_one_target_and_one_input(jobs_server: MCPServer[AppState]) -> None:
    async with Client(jobs_server) as mcp:
        both = await call_error(mcp, "ask_model", {"model": "a", "job_id": "ft-b", "prompt": "hi"})
        neither = await call_error(mcp, "ask_model", {"model": "a"})
    assert "exactly one of model" in both and "exactly one of prompt and messages" in neither


@pytest.mark.slow
async def test_a_finished_local_job_answers_without_an_endpoint(
    jobs_server: MCPServer[AppState],
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
    overfit_bytes: bytes,
) -> None:
    client, state = engine
    file = await upload(client, overfit_bytes)
    job = (await client.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model, n_epochs=1))).json()
    assert (await wait_job(client, job["id"]))["status"] == "completed"
    async with Client(jobs_server) as mcp:
        answered = await call_ok(
            mcp,
            "ask_model",
            {"job_id": job["id"], "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 4},
        )
    _asked(answered)
    assert (await client.get(f"{P}/endpoints")).json()["data"] == []
    assert len(state.deploy.on_demand._entries) == 1


# ---- a Together job tried on this machine --------------------------------------------------------------


@pytest.fixture
async def local_engine(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx2.ASGITransport, EngineState]]:
    """The local engine (127.0.0.1) beside the ``engine_transport`` one standing in for Together."""
    state = make_state(tmp_path / "local", tmp_path_factory.getbasetemp())
    app = create_app(state)
    async with app.router.lifespan_context(app):
        yield httpx2.ASGITransport(app=app), state
    state.close()


@pytest.fixture
def together_wire(engine_transport: tuple[httpx2.ASGITransport, EngineState]) -> FaultTransport:
    """What reaches "Together": every request recorded."""
    return FaultTransport(engine_transport[0])


@pytest.fixture
def together_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "byom",
        cache_dir=tmp_path / "byom-cache",
        together_api_key=SecretStr(KEY),
        together_base_url=TOGETHER_URL,
        engine_url=BASE_URL,
        engine_api_key=SecretStr(KEY),
        backend_choice="together",
    )


@pytest.fixture
def together_server(
    together_settings: Settings,
    together_wire: FaultTransport,
    local_engine: tuple[httpx2.ASGITransport, EngineState],
) -> MCPServer[AppState]:
    wire = HostRoutes({"together.test": together_wire, "127.0.0.1": local_engine[0]})
    return build_server(together_settings, transport=wire)


@pytest.mark.slow
async def test_a_together_job_is_tried_here_while_together_has_no_endpoint(
    together_server: MCPServer[AppState],
    together_wire: FaultTransport,
    together_settings: Settings,
    engine: tuple[httpx2.AsyncClient, EngineState],
    local_engine: tuple[httpx2.ASGITransport, EngineState],
    tiny_model: Path,
    overfit_bytes: bytes,
) -> None:
    together, _ = engine
    file = await upload(together, overfit_bytes)
    job = (await together.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model, n_epochs=1))).json()
    assert (await wait_job(together, job["id"]))["status"] == "completed"
    args = {"job_id": job["id"], "where": "local", "prompt": QUESTION, "max_tokens": 4}
    async with Client(together_server) as mcp:
        # Real Together serves no fine-tune without a dedicated endpoint (the stand-in engine would load it on
        # demand): its 404 is injected, and the plain ask says so and names where="local".
        together_wire.inject("POST", "/v1/chat/completions", answer(404, message="model not available"))
        refused = await call_error(mcp, "ask_model", {k: v for k, v in args.items() if k != "where"})
        assert "where='local'" in refused and "No running endpoint" in refused
        first = await call_ok(mcp, "ask_model", args)
        again = await call_ok(mcp, "ask_model", args)
    _asked(first)
    _asked(again)
    plan = first["download"]
    assert plan["checkpoint"] == "adapter" and plan["download_bytes"] > 0 and plan["cached"] is None
    assert again["download"]["cached"] is not None  # downloaded once, then served from the cache
    assert together_wire.count("GET", DOWNLOAD) == 2  # the size probe and the one download
    assert (await together.get(f"{P}/endpoints")).json()["data"] == []  # nothing was deployed on "Together"
    cache = together_settings.data_dir / "together-weights" / job["id"]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert len(local_engine[1].deploy.on_demand._entries) == 1  # the local engine served it


async def test_a_model_too_large_for_this_machine_is_refused_before_any_download(
    together_server: MCPServer[AppState],
    together_wire: FaultTransport,
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
) -> None:
    # "Together"'s record of a finished LoRA job on a 10T-parameter model: no machine serves that.
    now = time.time()
    engine_transport[1].db.execute(
        "INSERT INTO jobs (id, status, created_at, updated_at, queue_seq, request, spec, model_output_name,"
        " training_file, param_count) VALUES ('ft-huge', 'completed', ?, ?, 1, ?, ?, 'local/huge', 'file-x', ?)",
        (
            now,
            now,
            json.dumps({"model": "m", "training_type": {"type": "Lora"}}),
            '{"training_type": "lora"}',
            10**13,
        ),
    )
    async with Client(together_server) as mcp:
        text = await call_error(mcp, "ask_model", {"job_id": "ft-huge", "where": "local", "prompt": QUESTION})
    assert "Nothing was downloaded" in text and "parameters fit" in text, text
    assert together_wire.count("GET", DOWNLOAD) == 0
