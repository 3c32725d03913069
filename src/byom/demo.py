"""``byom demo``: the whole bring-your-own-model conversation on this machine, through a real MCP client.

It builds a tiny chat model (random weights, a tokenizer trained on the spot) and a small dataset, starts
``byom-mcp`` the way a host does (a subprocess speaking MCP on stdio), and calls the tools in the order an
assistant would: inspect, recommend a base, check the data, launch a LoRA fine-tune on the local engine, follow
it to the end with its loss curve, deploy it, ask it a question, and clean up. No key, no network: the server
gets its own data dir and engine port, so nothing of the user's own state is read or touched, and a
``TOGETHER_API_KEY`` in the environment is not passed on (the demo never spends money).

The launch and the deploy are confirmed without asking (``BYOM_AUTO_CONFIRM=1``, said in their results): a
host would ask the user there.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

__all__ = ["run_demo"]

TERMINAL = ("completed", "error", "cancelled", "user_error")
QUESTION = "What is the capital of France?"
# Enough for the tiny model to learn its facts in well under a minute on two CPU cores.
JOB = {"n_epochs": 20, "batch_size": 8, "learning_rate": 0.01, "lora_r": 8, "lora_alpha": 16}
_FAILSAFE_S = 600  # a step that takes this long is stuck, not slow


class DemoError(Exception):
    """A step of the demo did not do what it should; the message says which and where the logs are."""


class Console:
    """What the demo prints: each call, a short result, and a progress bar while it waits."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._bar = False
        self._shown = ""

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f}s"

    def step(self, text: str) -> None:
        self._end_bar()
        print(f"\n[{self.elapsed()}] {text}", file=self.out, flush=True)

    def call(self, name: str, args: dict[str, Any]) -> None:
        self._end_bar()
        self._shown = ""
        shown = ", ".join(f"{k}={_short(v)}" for k, v in args.items())
        print(f"  → {name}({shown})", file=self.out, flush=True)

    def result(self, lines: list[str]) -> None:
        self._end_bar()
        for line in lines:
            print(f"    {line}", file=self.out, flush=True)

    def progress(self, fraction: float, message: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(fraction * 30)
        bar = f"    [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {message[:60]}"
        # Not a terminal (a log, CI): a line each tenth of the way or new state, not one per notification.
        shown = f"{int(fraction * 10)} {message.split(':')[0]}"
        if not self.tty and shown == self._shown:
            return
        self._shown = shown
        if self.tty:
            print(f"\r{bar:<110}", end="", file=self.out, flush=True)
            self._bar = True
        else:
            print(bar, file=self.out, flush=True)

    def _end_bar(self) -> None:
        if self._bar:
            print(file=self.out)
            self._bar = False


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(work: Path, engine_url: str) -> dict[str, str]:
    """The environment of the demo's byom-mcp: this Python's own, with the demo's data dir and engine, and
    never a Together key (the local engine is the backend)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BYOM_", "TOGETHER_"))}
    src = str(Path(__file__).resolve().parents[1])  # this byom, ahead of any other installed copy
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
        BYOM_BACKEND="local",
        BYOM_DATA_DIR=str(work / "data"),
        BYOM_CACHE_DIR=str(work / "cache"),
        BYOM_ENGINE_URL=engine_url,
        BYOM_ENGINE_ALLOW_DIRS=str(work),
        BYOM_AUTO_CONFIRM="1",
        HF_HUB_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


class Demo:
    def __init__(self, work: Path, png: Path, console: Console) -> None:
        self.work = work
        self.png = png
        self.console = console
        self.engine_url = f"http://127.0.0.1:{_free_port()}"
        self.server_log = work / "byom-mcp.log"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Any]:
        from mcp import Client, StdioServerParameters
        from mcp.client.stdio import stdio_client

        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "byom", "-v", "mcp"],
            env=_server_env(self.work, self.engine_url),
        )
        with self.server_log.open("a") as errlog:  # a file: a full stderr pipe would stall the server
            async with Client(
                stdio_client(params, errlog=errlog), read_timeout_seconds=_FAILSAFE_S
            ) as client:
                yield client

    async def call(
        self, client: Any, name: str, args: dict[str, Any], **kw: Any
    ) -> tuple[dict[str, Any], Any]:
        self.console.call(name, args)
        result = await client.call_tool(name, args, **kw)
        if result.is_error or result.structured_content is None:
            raise DemoError(f"{name} failed: {_text(result)}\n(server log: {self.server_log})")
        return dict(result.structured_content), result

    async def run(self) -> None:
        console = self.console
        console.step(
            "Building a tiny chat model (random weights, its own tokenizer) and 32 training examples"
        )
        from byom.engine.tiny import make_tiny_llama, write_overfit_dataset

        model = str(make_tiny_llama(self.work / "tiny-chat"))
        train = write_overfit_dataset(self.work / "train.jsonl", n=32)
        console.result([f"model: {model}", f"data:  {train} (32 conversations)"])

        console.step("Starting byom-mcp on stdio, as an MCP host does")
        async with self.session() as client:
            tools = (await client.list_tools()).tools
            console.result([f"{len(tools)} tools: " + ", ".join(t.name for t in tools)])

            console.step("Can this model be fine-tuned?")
            _, result = await self.call(client, "inspect_hf_model", {"model": model})
            console.result(_first(_text(result), 6))

            console.step("Which base-model template fits it?")
            rec, _ = await self.call(client, "recommend_base", {"model": model})
            base = rec["base_model"]
            console.result([f"base: {base}", *_first(rec.get("explanation") or "", 2)])

            console.step("Is the data right, and what does the loss see?")
            args = {"path": str(train), "model": model, "preview_rows": 1}
            _, result = await self.call(client, "check_training_data", args)
            console.result(_first(_text(result), 12))

            console.step("Launching a LoRA fine-tune on the local engine")
            job_args = {"training_file": str(train), "from_hf_model": model, "model": base, **JOB}
            created, result = await self.call(client, "create_finetune", job_args)
            if created.get("status") != "created":
                raise DemoError(f"create_finetune did not create a job: {_text(result)}")
            job_id = created["job_id"]
            console.result(
                [f"job {job_id}", created["note"], "(a host without BYOM_AUTO_CONFIRM asks the user here)"]
            )

            console.step("Following the job")
            status = await self.follow(client, job_id)
            if status["status"] != "completed":
                raise DemoError(f"the job ended {status['status']}: {json.dumps(status)[:2000]}")
            _, result = await self.call(client, "job_status", {"job_id": job_id, "plot": True})
            console.result(_first(_text(result), 8))
            self.save_plot(result)
            console.result([f"loss curve: {self.png}"])

            console.step("Did it get better than the model it started from?")
            report = await self.evaluate(client, {"model": job_id, "data": str(train)})
            console.result(_first(report, 8))

            console.step("Deploying the fine-tuned model behind an endpoint")
            deployed, result = await self.call(
                client, "deploy_endpoint", {"job_id": job_id, "wait_seconds": 45}
            )
            if deployed.get("status") != "deployed":
                raise DemoError(f"deploy_endpoint did not deploy: {_text(result)}")
            name = deployed["endpoint"]["endpoint_name"]
            if not deployed["endpoint"].get("ready"):
                await self.wait_ready(client, name)
            console.result([f"endpoint {name} is ready"])

            console.step("Asking it a question")
            _, result = await self.call(
                client, "ask_model", {"model": name, "prompt": QUESTION, "max_tokens": 12}
            )
            console.result([*_first(_text(result), 4), "(a tiny model: the point is that it answers)"])

            console.step("Cleaning up")
            await self.call(client, "manage_endpoint", {"endpoint": name, "action": "delete"})
            console.result(["endpoint deleted"])

    async def follow(self, client: Any, job_id: str) -> dict[str, Any]:
        """job_status with short waits, as a host would, drawing its progress notifications as a bar."""

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            self.console.progress(progress / total if total else 0.0, message or "")

        deadline = time.monotonic() + _FAILSAFE_S
        while True:
            status, _ = await self.call(
                client, "job_status", {"job_id": job_id, "wait_seconds": 20}, progress_callback=on_progress
            )
            self.console.progress(
                (status.get("percent") or 0) / 100, f"{status['status']}: {_progress_text(status)}"
            )
            if status["status"] in TERMINAL:
                return status
            if time.monotonic() > deadline:
                raise DemoError(f"the job is still {status['status']} after {_FAILSAFE_S} s")

    async def wait_ready(self, client: Any, name: str) -> None:
        deadline = time.monotonic() + _FAILSAFE_S
        while time.monotonic() < deadline:
            report, _ = await self.call(client, "manage_endpoint", {"endpoint": name})
            states = [d["state"] for d in report["report"]["deployments"]]
            if "DEPLOYMENT_STATE_READY" in states:
                return
            if "DEPLOYMENT_STATE_FAILED" in states:
                raise DemoError(f"the deployment failed: {json.dumps(report)[:2000]}")
        raise DemoError(f"the endpoint was not ready after {_FAILSAFE_S} s")

    async def evaluate(self, client: Any, args: dict[str, Any]) -> str:
        """evaluate_model (held-out loss against the base, and forgetting), read again until it has ended."""
        done, result = await self.call(client, "evaluate_model", args)
        deadline = time.monotonic() + _FAILSAFE_S
        while done["report"]["status"] in ("pending", "queued", "running"):
            if time.monotonic() > deadline:
                raise DemoError(f"the evaluation is still {done['report']['status']} after {_FAILSAFE_S} s")
            done, result = await self.call(
                client, "evaluate_model", {"model": done["report"]["evaluation_id"]}
            )
        if done["report"]["status"] != "completed":
            raise DemoError(f"the evaluation ended {done['report']['status']}: {_text(result)[:2000]}")
        return _text(result)

    def save_plot(self, result: Any) -> None:
        from mcp.types import ImageContent

        images = [c for c in result.content if isinstance(c, ImageContent)]
        if not images:
            raise DemoError("job_status(plot=True) returned no image")
        self.png.parent.mkdir(parents=True, exist_ok=True)
        self.png.write_bytes(base64.b64decode(images[0].data))

    def stop_engine(self) -> str | None:
        """Stop the engine byom-mcp started for the demo (it outlives the server by design); what was done."""
        import psutil

        from byom.engine.service import read_holder

        holder = read_holder(self.work / "data" / "engine")
        if holder is None:
            return None  # it never started
        try:
            process = psutil.Process(holder[0])
            process.terminate()  # SIGTERM: it finishes its requests, stops its jobs, gives up the data dir
            process.wait(60)
        except psutil.NoSuchProcess:
            return None
        except psutil.TimeoutExpired:
            process.kill()
            return f"engine (pid {holder[0]}) killed: it did not stop within 60 s"
        return f"engine (pid {holder[0]}) stopped"


def _progress_text(status: dict[str, Any]) -> str:
    parts = []
    if status.get("steps_completed") is not None and status.get("total_steps"):
        parts.append(f"step {status['steps_completed']}/{status['total_steps']}")
    if status.get("latest_loss") is not None:
        parts.append(f"loss {status['latest_loss']:.3f}")
    return ", ".join(parts)


def _text(result: Any) -> str:
    from mcp.types import TextContent

    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def _first(text: str, n: int) -> list[str]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [line[:110] for line in lines[:n]] + (
        [f"… ({len(lines) - n} more lines)"] if len(lines) > n else []
    )


def _first_demo_error(group: BaseExceptionGroup) -> BaseException:
    """The DemoError inside an exception group, else the group itself (a real crash keeps its traceback)."""
    for exc in group.exceptions:
        if isinstance(exc, DemoError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = _first_demo_error(exc)
            if isinstance(found, DemoError):
                return found
    return group


def run_demo(png: Path, keep: bool = False, out: TextIO = sys.stdout) -> float:
    """Run the demo; returns its wall time in seconds. Raises ``DemoError`` when a step fails."""
    import anyio

    console = Console(out)
    work = Path(tempfile.mkdtemp(prefix="byom-demo-"))
    demo = Demo(work, png.resolve(), console)
    ok = False
    try:
        try:
            anyio.run(demo.run)
        except BaseExceptionGroup as group:  # raised inside the MCP client's task group
            raise _first_demo_error(group) from None
        ok = True
    finally:
        stopped = demo.stop_engine()
        if keep or not ok:
            console.result(
                [*([stopped] if stopped else []), f"work dir kept: {work} (server log: {demo.server_log})"]
            )
        else:
            shutil.rmtree(work, ignore_errors=True)
            console.result([*([stopped] if stopped else []), f"work dir removed: {work}"])
    elapsed = time.monotonic() - console.started
    console.step(f"Done in {elapsed:.0f} s. Next: `byom doctor` prints the config snippet for your MCP host.")
    return elapsed
