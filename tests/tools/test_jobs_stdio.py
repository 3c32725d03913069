"""The whole conversation over stdio, as a host runs it: byom-mcp a subprocess, the local engine a real
process that byom-mcp itself starts (detached) on first use, and that outlives it for the next session."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult, TextContent

import byom
from byom.together import TogetherClient
from support.engine import FAST_JOB, HANG_S, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

TERMINAL = ("completed", "error", "cancelled", "user_error")


class Session:
    """What one host session saw: the confirmations it was asked, progress, and anything on stdout that was
    not a JSON-RPC message (the stdio transport hands those to the message handler as exceptions)."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.progress: list[float] = []
        self.not_json_rpc: list[Exception] = []

    async def elicit(self, _context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    async def on_progress(self, progress: float, _total: float | None, _message: str | None) -> None:
        self.progress.append(progress)

    async def on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self.not_json_rpc.append(message)


class Stack:
    """One byom-mcp configuration: its data dir, the engine URL it uses, and how to launch it."""

    def __init__(self, root: Path, allow_dir: Path, **env: str) -> None:
        self.data = root / "byom"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = root / "byom-mcp.stderr"
        src = str(Path(byom.__file__).resolve().parents[1])  # this checkout's source, ahead of any install
        self.env = {
            "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
            # The suite's redirected home and caches (tests/conftest.py), never the real user's.
            **{
                k: os.environ[k]
                for k in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HOME")
                if k in os.environ
            },
            "BYOM_DATA_DIR": str(self.data),
            "BYOM_CACHE_DIR": str(root / "byom-cache"),
            "BYOM_ENGINE_URL": self.url,
            "BYOM_ENGINE_ALLOW_DIRS": str(allow_dir),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            **env,
        }
        assert "TOGETHER_API_KEY" not in os.environ  # the local engine is the backend

    @property
    def pid_file(self) -> Path:
        return self.data / "engine" / "engine.pid"

    def engine_pid(self) -> int:
        return int(json.loads(self.pid_file.read_text())["pid"])

    @asynccontextmanager
    async def session(self, seen: Session) -> AsyncIterator[Client]:
        params = StdioServerParameters(command=sys.executable, args=["-m", "byom", "-v", "mcp"], env=self.env)
        with self.log.open("a") as errlog:  # a file: a full stderr pipe would stall the server
            transport = stdio_client(params, errlog=errlog)
            async with Client(
                transport,
                elicitation_callback=seen.elicit,
                message_handler=seen.on_message,
                read_timeout_seconds=HANG_S,
            ) as client:
                yield client
        assert not seen.not_json_rpc, f"stdout carried something else: {seen.not_json_rpc}"

    def stop_engine(self) -> None:
        """SIGTERM the detached engine and wait (bounded) until it is gone; SIGKILL if it will not go."""
        try:
            pid = self.engine_pid()
        except (OSError, ValueError, KeyError):
            return  # it never started (or already stopped and removed its pid file)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped by whoever adopted it, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _healthy(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/health", timeout=5).status_code == 200
    except httpx2.TransportError:
        return False


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    return result.structured_content


async def test_conversation_over_stdio_with_an_autostarted_engine_that_outlives_the_server(
    tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> None:
    train = tmp_path / "train.jsonl"
    train.write_bytes(overfit_bytes)
    stack = Stack(tmp_path, tiny_model.parent)
    assert not _healthy(stack.url)
    first = Session()
    try:
        async with stack.session(first) as client:
            # The first job tool call starts the engine (detached), then answers from it.
            listed = _ok(await client.call_tool("list_jobs", {}))
            assert listed["jobs"] == [] and stack.url in listed["backend"]
            engine_pid = stack.engine_pid()
            assert _alive(engine_pid)

            report = _ok(await client.call_tool("inspect_hf_model", {"model": str(tiny_model)}))
            assert report["is_causal_lm"] is True
            base = _ok(await client.call_tool("recommend_base", {"model": str(tiny_model)}))["base_model"]

            args = {"training_file": str(train), "from_hf_model": str(tiny_model), "model": base, **FAST_JOB}
            created = _ok(await client.call_tool("create_finetune", args))
            assert created["status"] == "created", created
            job_id = created["job_id"]
            # The user was asked with the plan itself: the model, the base, the data and what it costs.
            assert len(first.asked) == 1
            asked = first.asked[0]
            assert asked == created["plan"]["summary"]
            assert str(tiny_model) in asked and base in asked and train.name in asked

            # The trainer is a fresh subprocess importing torch, so the first wait starts on an active job.
            deadline = time.monotonic() + HANG_S
            while True:
                status = _ok(
                    await client.call_tool(
                        "job_status",
                        {"job_id": job_id, "wait_seconds": 15},
                        progress_callback=first.on_progress,
                    )
                )
                if status["status"] in TERMINAL:
                    break
                assert time.monotonic() < deadline, f"job stuck in {status['status']}"
            assert status["status"] == "completed", status
            assert first.progress, "no progress notification arrived while job_status waited"

            deployed = _ok(await client.call_tool("deploy_endpoint", {"job_id": job_id, "wait_seconds": 45}))
            assert deployed["status"] == "deployed", deployed
            assert len(first.asked) == 2
            name = deployed["endpoint"]["endpoint_name"]
            if not deployed["endpoint"]["ready"]:
                await _wait_ready(client, name)

            key = (stack.data / "engine" / "api_key").read_text().strip()
            async with TogetherClient(api_key=key, base_url=stack.url) as engine:
                reply = await engine.chat_completion(name, [{"role": "user", "content": "hi"}], max_tokens=4)
            assert reply.choices and reply.choices[0].message is not None

            deleted = _ok(await client.call_tool("manage_endpoint", {"endpoint": name, "action": "delete"}))
            assert deleted["status"] == "done", deleted
            assert len(first.asked) == 3

        # The host closed the session and byom-mcp exited; the engine it started did not.
        assert _healthy(stack.url), (stack.data / "engine.log").read_text()

        second = Session()
        async with stack.session(second) as client:
            listed = _ok(await client.call_tool("list_jobs", {}))
        assert [j["job_id"] for j in listed["jobs"]] == [job_id]
        assert stack.engine_pid() == engine_pid  # the same engine, not a second one
        log = (stack.data / "engine.log").read_text()
        assert key not in log and key not in stack.log.read_text()
    finally:
        stack.stop_engine()
    assert not _healthy(stack.url)


async def _wait_ready(client: Client, endpoint: str) -> None:
    """deploy_endpoint waited 45 s; a loaded machine may need longer: poll its status up to the failsafe."""
    deadline = time.monotonic() + HANG_S
    while True:
        report = _ok(await client.call_tool("manage_endpoint", {"endpoint": endpoint}))["report"]
        states = [d["state"] for d in report["deployments"]]
        if "DEPLOYMENT_STATE_READY" in states:
            return
        assert "DEPLOYMENT_STATE_FAILED" not in states, report
        assert time.monotonic() < deadline, f"endpoint stuck in {states}"


async def test_without_autostart_a_missing_engine_is_a_tool_error_that_says_how_to_start_it(
    tmp_path: Path, tiny_model: Path
) -> None:
    stack = Stack(tmp_path, tiny_model.parent, BYOM_NO_ENGINE_AUTOSTART="1")
    seen = Session()
    async with stack.session(seen) as client:
        result = await client.call_tool("list_jobs", {})
    assert result.is_error
    text = _text(result)
    assert "byom engine" in text and stack.url in text, text
    assert "Traceback" not in text
    assert not stack.pid_file.exists() and not _healthy(stack.url)
