"""byom-mcp as a host runs it, in a subprocess (stdio, or `byom mcp --http`), with the local engine that it starts
itself on first use; and the whole BYOM conversation, which the stdio and the streamable HTTP tests both run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult

import byom
from byom.together import TogetherClient
from support.engine import FAST_JOB, HANG_S, free_port
from support.poll import alive, listening, until, until_sync
from support.tool_calls import text_of

__all__ = ["TERMINAL", "Conversation", "Session", "Stack", "converse", "healthy", "ok", "wait_ready"]

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

    def engine_key(self) -> str:
        return (self.data / "engine" / "api_key").read_text().strip()

    def mcp_token(self) -> str:
        """The token `byom mcp --http` generated on its first start (what `byom doctor` tells a host to send)."""
        return (self.data / "mcp_token").read_text().strip()

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mcp_token()}"}

    def process_env(self) -> dict[str, str]:
        """The environment of a process launched directly (not through mcp's stdio_client, which adds PATH)."""
        return {"PATH": os.environ.get("PATH", os.defpath), **self.env}

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

    @contextmanager
    def http_server(self) -> Iterator[str]:
        """`byom mcp --http` on a free loopback port, until the block ends; yields its MCP URL."""
        port = free_port()
        args = [sys.executable, "-m", "byom", "-v", "mcp", "--http", "--port", str(port)]
        with (
            self.log.open("a") as errlog,
            subprocess.Popen(args, env=self.process_env(), stdout=errlog, stderr=errlog) as proc,
        ):
            try:
                _wait_listening(port, proc, self.log)
                yield f"http://127.0.0.1:{port}/mcp"
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    @asynccontextmanager
    async def http_session(self, url: str, seen: Session) -> AsyncIterator[Client]:
        async with (
            httpx2.AsyncClient(headers=self.bearer(), timeout=HANG_S) as http,
            Client(
                streamable_http_client(url, http_client=http),
                elicitation_callback=seen.elicit,
                message_handler=seen.on_message,
                read_timeout_seconds=HANG_S,
            ) as client,
        ):
            yield client
        assert not seen.not_json_rpc, f"the stream carried something else: {seen.not_json_rpc}"

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
        try:
            until_sync(lambda: not alive(pid), f"engine {pid} to stop on SIGTERM", timeout=60, interval=0.1)
        except AssertionError:  # a teardown: a stuck engine is killed, not reported
            os.kill(pid, signal.SIGKILL)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the port accepts; a server that died says why at once instead of at the failsafe."""

    def accepts() -> bool:
        assert proc.poll() is None, f"byom mcp --http exited {proc.returncode}: {log.read_text()}"
        return listening(port)

    until_sync(accepts, f"byom mcp --http to listen on 127.0.0.1:{port}", interval=0.1)


def healthy(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/health", timeout=5).status_code == 200
    except httpx2.TransportError:
        return False


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


@dataclass(frozen=True)
class Conversation:
    job_id: str
    endpoint: str
    key: str  # the engine's API key, which must appear in no log


async def converse(client: Client, seen: Session, stack: Stack, model: Path, train: Path) -> Conversation:
    """The BYOM conversation from the inspection of the user's model to the deleted endpoint, checking each
    answer; every confirmation the server asks for is accepted (and counted in `seen`)."""
    asked_before = len(seen.asked)
    report = ok(await client.call_tool("inspect_hf_model", {"model": str(model)}))
    assert report["is_causal_lm"] is True
    base = ok(await client.call_tool("recommend_base", {"model": str(model)}))["base_model"]
    check = ok(await client.call_tool("check_training_data", {"path": str(train), "model": str(model)}))
    assert check["report"]["valid"] is True, check

    args = {"training_file": str(train), "from_hf_model": str(model), "model": base, **FAST_JOB}
    created = ok(await client.call_tool("create_finetune", args))
    assert created["status"] == "created", created
    job_id = created["job_id"]
    # The user was asked with the plan itself: the model, the base, the data and what it costs.
    assert len(seen.asked) == asked_before + 1
    asked = seen.asked[-1]
    assert asked == created["plan"]["summary"]
    assert str(model) in asked and base in asked and train.name in asked

    # The trainer is a fresh subprocess importing torch, so the first wait starts on an active job.
    async def ended() -> dict[str, Any] | None:
        args = {"job_id": job_id, "wait_seconds": 15}
        status = ok(await client.call_tool("job_status", args, progress_callback=seen.on_progress))
        return status if status["status"] in TERMINAL else None

    status = await until(ended, f"job {job_id} to end", interval=0)  # each call waits up to 15 s itself
    assert status["status"] == "completed", status
    assert seen.progress, "no progress notification arrived while job_status waited"

    deployed = ok(await client.call_tool("deploy_endpoint", {"job_id": job_id, "wait_seconds": 45}))
    assert deployed["status"] == "deployed", deployed
    assert len(seen.asked) == asked_before + 2
    name = deployed["endpoint"]["endpoint_name"]
    if not deployed["endpoint"]["ready"]:
        await wait_ready(client, name)

    key = stack.engine_key()
    async with TogetherClient(api_key=key, base_url=stack.url) as engine:
        reply = await engine.chat_completion(name, [{"role": "user", "content": "hi"}], max_tokens=4)
    assert reply.choices and reply.choices[0].message is not None

    deleted = ok(await client.call_tool("manage_endpoint", {"endpoint": name, "action": "delete"}))
    assert deleted["status"] == "done", deleted
    assert len(seen.asked) == asked_before + 3
    return Conversation(job_id=job_id, endpoint=name, key=key)


async def wait_ready(client: Client, endpoint: str) -> None:
    """deploy_endpoint waited 45 s; a loaded machine may need longer: poll its status up to the failsafe."""

    async def ready() -> bool:
        report = ok(await client.call_tool("manage_endpoint", {"endpoint": endpoint}))["report"]
        states = [d["state"] for d in report["deployments"]]
        assert "DEPLOYMENT_STATE_FAILED" not in states, report
        return "DEPLOYMENT_STATE_READY" in states

    await until(ready, f"endpoint {endpoint} to be ready")
