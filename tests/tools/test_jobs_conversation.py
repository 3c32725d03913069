"""The job tools in conversation, in both protocol modes, against the real engine (in-process, over ASGI).

"auto" negotiates 2026-07-28, where a confirmation is a multi-round-trip ``input_required`` result; "legacy"
asks it with a mid-call ``elicitation/create``. Either way the client's ``elicitation_callback`` answers it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, ImageContent

from byom.engine.state import EngineState
from byom.together import TogetherClient
from byom.tools import AppState
from support.engine import BASE_URL, FAST_JOB, KEY
from support.mcp_stack import wait_ready
from support.poll import until
from support.tool_calls import text_of

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]
# What each mode negotiates: the era decides how a confirmation travels.
PROTOCOL = {"auto": "2026-07-28", "legacy": "2025-11-25"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Elicitation = Callable[[Any, ElicitRequestParams], Awaitable[ElicitResult]]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


class User:
    """The person behind the host: answers every confirmation one way and remembers what it was shown."""

    def __init__(self, action: str = "accept", confirm: bool = True) -> None:
        self.action = action
        self.confirm = confirm
        self.shown: list[str] = []

    async def __call__(self, _context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.shown.append(params.message)
        if self.action != "accept":
            return ElicitResult(action=self.action)  # type: ignore[arg-type]
        return ElicitResult(action="accept", content={"confirm": self.confirm})


class Progress:
    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def _create_args(train_file: Path, tiny_model: Path) -> dict[str, Any]:
    return {"training_file": str(train_file), "from_hf_model": str(tiny_model), **FAST_JOB}


def _engine_jobs(state: EngineState) -> list[Any]:
    return state.db.query("SELECT id FROM jobs")


async def _follow_until_done(client: Client, job_id: str, progress: Progress) -> dict[str, Any]:
    """job_status with waits until the job is terminal; the deadline is a hang failsafe, not a timing."""

    async def ended() -> dict[str, Any] | None:
        data = _ok(
            await client.call_tool(
                "job_status", {"job_id": job_id, "wait_seconds": 10}, progress_callback=progress
            )
        )
        return data if data["status"] in ("completed", "error", "cancelled", "user_error") else None

    return await until(ended, f"job {job_id} to end", interval=0)


@pytest.mark.slow
async def test_create_follow_deploy_chat_manage(
    mode: str,
    jobs_server: MCPServer[AppState],
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
    train_file: Path,
    tiny_model: Path,
) -> None:
    user = User()
    progress = Progress()
    async with Client(jobs_server, mode=mode, elicitation_callback=user) as client:
        assert client.protocol_version == PROTOCOL[mode]
        created = _ok(await client.call_tool("create_finetune", _create_args(train_file, tiny_model)))
        assert created["status"] == "created" and created["job_id"].startswith("ft-")
        job_id = created["job_id"]
        # The user was shown the plan itself, not a bare yes/no.
        assert len(user.shown) == 1 and user.shown[0] == created["plan"]["summary"]

        job = json.loads((await client.read_resource(f"byom://jobs/{job_id}")).contents[0].text)
        assert job["job"]["id"] == job_id and job["summary"]["job_id"] == job_id

        listed = _ok(await client.call_tool("list_jobs", {}))
        assert [j["job_id"] for j in listed["jobs"]] == [job_id]

        # The trainer is a fresh subprocess that imports torch: the job cannot be over this early, so the first
        # wait below starts on an active job and reports progress at least once.
        done = await _follow_until_done(client, job_id, progress)
        assert done["status"] == "completed", done
        assert progress.seen, "no progress notification arrived while job_status waited"
        # One token count: the check's tokens per epoch, the plan's total and the job's token_count agree.
        check = _ok(
            await client.call_tool("check_training_data", {"path": str(train_file), "model": str(tiny_model)})
        )
        tokens = created["plan"]["price"]["tokens"]
        assert tokens["max_seq_length"] == check["max_seq_length"] == created["plan"]["max_seq_length"]
        assert tokens["per_epoch"] == check["tokens_per_epoch"]
        finished = json.loads((await client.read_resource(f"byom://jobs/{job_id}")).contents[0].text)["job"]
        assert finished["token_count"] == tokens["total"] == check["tokens_per_epoch"] * FAST_JOB["n_epochs"]
        # And job_status reads the finished run's loss as numbers, with a judgment.
        # (A few steps of the random tiny model start at ln(vocab), so it may still read as chance level.)
        assert done["loss"]["train"] and done["loss"]["trend"] == "falling", done["loss"]
        assert done["loss"]["judgment"] in ("falling", "at chance level") and done["loss"]["chance_loss"]
        # #16: the next plan of this model times itself from this machine's measured throughput (this job's).
        again = _ok(
            await client.call_tool(
                "create_finetune", {**_create_args(train_file, tiny_model), "dry_run": True}
            )
        )
        duration = again["plan"]["duration"]
        assert again["status"] == "dry_run" and duration["tokens_per_second"] > 0 and duration["seconds"] > 0
        assert f"measured on this machine by LoRA job {job_id} over its whole training" in duration["basis"]
        # One rate: the job's tokens over its training time, as job_status shows it (not a per-step median).
        rate = done["training_rate"]
        assert duration["tokens_per_second"] == rate["tokens_per_second"] > 0
        assert rate["tokens_per_second"] * rate["seconds"] == pytest.approx(finished["token_count"])
        assert f"Speed: {rate['tokens_per_second']:,.0f} tokens/s" in text_of(
            await client.call_tool("job_status", {"job_id": job_id})
        )
        # A full fine-tune trains at another speed: a LoRA job's rate is not its time.
        full = _ok(
            await client.call_tool(
                "create_finetune",
                {**_create_args(train_file, tiny_model), "dry_run": True, "training_type": "full"},
            )
        )
        assert full["plan"]["duration"]["seconds"] is None
        assert "no completed full fine-tuning job of this model" in full["plan"]["duration"]["basis"]

        plotted = await client.call_tool("job_status", {"job_id": job_id, "plot": True})
        _ok(plotted)
        images = [c for c in plotted.content if isinstance(c, ImageContent)]
        assert len(images) == 1 and images[0].mime_type == "image/png"
        assert base64.b64decode(images[0].data).startswith(PNG_SIGNATURE)

        deployed = _ok(await client.call_tool("deploy_endpoint", {"job_id": job_id, "wait_seconds": 45}))
        assert deployed["status"] == "deployed", deployed
        assert len(user.shown) == 2  # the deploy's hourly cost was confirmed too
        # And the call that trains on from the deployed job's output (its merged weights on this engine).
        assert deployed["continue_with"].startswith("create_finetune(from_hf_model='"), deployed
        assert f"/jobs/{job_id}/output/merged'" in deployed["continue_with"]
        endpoint = deployed["endpoint"]
        name = endpoint["endpoint_name"]
        if not endpoint["ready"]:
            await wait_ready(client, name)

        async with TogetherClient(api_key=KEY, base_url=BASE_URL, transport=engine_transport[0]) as engine:
            reply = await engine.chat_completion(name, [{"role": "user", "content": "hi"}], max_tokens=4)
        assert reply.choices and reply.choices[0].message is not None

        status = _ok(await client.call_tool("manage_endpoint", {"endpoint": name}))
        assert status["status"] == "done" and status["report"] is not None
        assert len(user.shown) == 2  # reading a status asks nobody
        # The local engine bills nothing: stopping it is said for what it does here (trial D).
        assert "frees this machine's memory" in status["report"]["next_step"]
        assert "billing" not in status["report"]["next_step"]
        stopped = _ok(await client.call_tool("manage_endpoint", {"endpoint": name, "action": "stop"}))
        assert stopped["status"] == "done", stopped
        deleted = _ok(await client.call_tool("manage_endpoint", {"endpoint": name, "action": "delete"}))
        assert deleted["status"] == "done", deleted
        assert deleted["report"]["next_step"].startswith("Its memory on this machine is freed.")
        assert len(user.shown) == 4


@pytest.mark.parametrize(
    ("action", "confirm"), [("decline", True), ("accept", False), ("cancel", True)], ids=str
)
async def test_a_refused_confirmation_creates_nothing(
    mode: str,
    action: str,
    confirm: bool,
    jobs_server: MCPServer[AppState],
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
    train_file: Path,
    tiny_model: Path,
) -> None:
    user = User(action, confirm)
    async with Client(jobs_server, mode=mode, elicitation_callback=user) as client:
        result = _ok(await client.call_tool("create_finetune", _create_args(train_file, tiny_model)))
        listed = _ok(await client.call_tool("list_jobs", {}))
    assert len(user.shown) == 1
    assert result["status"] == "declined" and result["job_id"] is None, result
    assert listed["jobs"] == [] and listed["total"] == 0
    assert _engine_jobs(engine_transport[1]) == []


async def test_resources_and_prompts(mode: str, jobs_server: MCPServer[AppState], byom_settings: Any) -> None:
    async with Client(jobs_server, mode=mode) as client:
        backend = (await client.read_resource("byom://backend")).contents[0].text
        prompts = [p.name for p in (await client.list_prompts()).prompts]
    info = json.loads(backend)
    assert info["kind"] == "local" and info["base_url"] == BASE_URL
    assert info["credentials"]["BYOM_ENGINE_API_KEY"] is True  # whether it is set, never its value
    assert info["engine_key_file"] is None  # the key is the one the server was given, not the engine's file
    assert KEY not in backend
    assert prompts == ["finetune_my_model", "why_did_my_job_fail"]
