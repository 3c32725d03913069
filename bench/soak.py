"""Soak: for a bounded time, concurrent MCP clients call job_status, list_jobs and inspect_hf_model while two
jobs train and an endpoint serves chat completions; errors, memory and open descriptors are measured.

Everything runs as real processes on loopback: the engine (``python -m byom engine``), ``byom mcp --http``
pointed at it (``BYOM_ENGINE_URL`` + ``BYOM_ENGINE_API_KEY``), and the trainer the engine starts. The engine
trains one job at a time: one job trains, the second is queued behind it (both long enough to outlast the
soak; both are cancelled at the end). The endpoint serves the tiny base model, registered and deployed on
the local CPU config. RSS and descriptor counts (psutil) of the engine and of the MCP server are sampled
every half second; growth is the last quarter's peak minus the first quarter's (the first quarter holds
the warm-up: imports, the first inspection, the first generation).

    python bench/soak.py [--seconds 120] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from byom.config import Settings
from byom.engine.deploy.registry import register_model
from byom.engine.state import EngineConfig, EngineState
from byom.engine.tiny import make_tiny_llama, write_overfit_dataset

sys.path.insert(0, str(Path(__file__).parent))
from _engine import KEY, engine_process, free_port

P = "/v2/projects/proj_local"
SAMPLE_S = 0.5


@dataclass
class Series:
    """One process's samples: (seconds since start, RSS bytes, open descriptors)."""

    samples: list[tuple[float, int, int]] = field(default_factory=list)

    def quarter(self, which: int) -> list[tuple[float, int, int]]:
        n = max(1, len(self.samples) // 4)
        return self.samples[:n] if which == 0 else self.samples[-n:]

    def growth(self) -> tuple[int, int]:
        """(RSS bytes, descriptors): the last quarter's peak minus the first quarter's."""
        first, last = self.quarter(0), self.quarter(-1)
        return (
            max(s[1] for s in last) - max(s[1] for s in first),
            max(s[2] for s in last) - max(s[2] for s in first),
        )

    def line(self, name: str) -> str:
        rss = [s[1] for s in self.samples]
        fds = [s[2] for s in self.samples]
        d_rss, d_fds = self.growth()
        mib = 1024 * 1024
        return (
            f"{name:<10} RSS start {rss[0] / mib:.1f} MiB, end {rss[-1] / mib:.1f}, peak {max(rss) / mib:.1f},"
            f" growth {d_rss / mib:+.1f} (last vs first quarter peak); fds start {fds[0]}, end {fds[-1]},"
            f" peak {max(fds)}, growth {d_fds:+d}"
        )


@dataclass
class SoakReport:
    seconds: float
    calls: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    processes: dict[str, Series] = field(default_factory=dict)
    steps_trained: int = 0

    def render(self) -> str:
        lines = [
            f"soak: {self.seconds:.1f} s, {sum(self.calls.values())} calls served, {len(self.errors)} errors"
        ]
        for tool, n in sorted(self.calls.items()):
            lat = self.latencies.get(tool) or [0.0]
            lines.append(
                f"  {tool:<18} {n:>6} calls, median {statistics.median(lat) * 1000:.0f} ms,"
                f" max {max(lat) * 1000:.0f} ms"
            )
        lines.append(f"  training steps completed during the soak: {self.steps_trained}")
        lines += [f"  {s.line(name)}" for name, s in self.processes.items()]
        lines += [f"  error: {e}" for e in self.errors[:10]]
        return "\n".join(lines)


def _job_body(file_id: str, model: Path) -> dict[str, Any]:
    # More steps than a soak lasts (64 rows at batch 2: 32 steps an epoch, 640 in all); cancelled at the end.
    return {
        "training_file": file_id,
        "model": "Qwen/Qwen3-0.6B",  # any catalog base is the template of a local job
        "from_hf_model": str(model),
        "n_epochs": 20,
        "n_checkpoints": 1,
        "batch_size": 2,
        "learning_rate": 1e-3,
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
    }


def _register_base(data_dir: Path, model: Path) -> str:
    """Register the tiny base in the engine's model registry (before the engine starts); its model id."""
    state = EngineState.open(
        data_dir,
        api_key=KEY,
        base_url="http://127.0.0.1",
        settings=Settings(data_dir=data_dir.parent / "byom", cache_dir=data_dir.parent / "cache"),
        config=EngineConfig(autostop_interval_s=0, device="cpu"),
    )
    try:
        registered = register_model(
            state.db,
            project_id="proj_local",
            project_slug="local",
            name="soak-base",
            kind="model",
            path=model,
        )
        return registered.id
    finally:
        state.close()


async def _wait(check: Any, what: str, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await anyio.sleep(0.2)


async def _setup(http: httpx2.AsyncClient, root: Path, model: Path, model_id: str) -> list[str]:
    """Two training jobs (one trains, one queued) and a READY deployment behind the endpoint ``local/soak``."""
    data = write_overfit_dataset(root / "train.jsonl", n=64).read_bytes()
    r = await http.post(
        "/v1/files/upload", files={"file": ("train.jsonl", data)}, data={"purpose": "fine-tune"}
    )
    _ok(r)
    file_id = r.json()["id"]
    await _wait(
        lambda: _get(http, f"/v1/files/{file_id}", lambda b: b["processing_status"] == "COMPLETED"),
        "the training file's validation",
    )
    jobs = []
    for _ in range(2):
        r = _ok(await http.post("/v1/fine-tunes", json=_job_body(file_id, model)))
        jobs.append(r.json()["id"])
    ep = _ok(await http.post(f"{P}/endpoints", json={"name": "soak"})).json()
    body = {
        "name": "d1",
        "model": f"projects/proj_local/models/{model_id}",
        "config": "projects/proj_local/configs/cr_local_cpu",
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
    }
    r = _ok(await http.post(f"{P}/endpoints/{ep['id']}/deployments", json=body))
    route = f"{P}/endpoints/{ep['id']}/deployments/{r.json()['id']}"
    state = await _wait(
        lambda: _get(http, route, lambda b: b["status"]["state"] not in ("DEPLOYMENT_STATE_PROVISIONING",)),
        "the deployment",
    )
    if state["status"]["state"] != "DEPLOYMENT_STATE_READY":
        raise RuntimeError(f"the deployment did not start: {state['status']}")
    # Training, not only started: a trainer's imports take tens of seconds on a loaded machine.
    await _wait(
        lambda: _get(http, f"/v1/fine-tunes/{jobs[0]}", lambda b: (b["steps_completed"] or 0) > 0),
        "the first job to train",
    )
    return jobs


def _ok(r: httpx2.Response) -> httpx2.Response:
    if r.status_code != 200:
        raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:500]}")
    return r


async def _get(http: httpx2.AsyncClient, route: str, ok: Any) -> Any:
    body = _ok(await http.get(route)).json()
    return body if ok(body) else None


class _MCPServer:
    """``byom mcp --http`` on a free loopback port, its backend the soak's engine."""

    def __init__(self, root: Path, engine_url: str, allow_dir: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "BYOM_ENGINE_URL": engine_url,
            "BYOM_ENGINE_API_KEY": KEY,
            "BYOM_BACKEND": "local",
            "BYOM_NO_ENGINE_AUTOSTART": "1",
            "BYOM_DATA_DIR": str(root / "byom"),
            "BYOM_CACHE_DIR": str(root / "byom-cache"),
            "BYOM_ENGINE_ALLOW_DIRS": str(allow_dir),
            "HF_HUB_OFFLINE": "1",
        }
        env.pop("TOGETHER_API_KEY", None)
        byom = Path(sys.executable).parent / "byom"
        cmd = [str(byom)] if byom.exists() else [sys.executable, "-m", "byom"]
        self.log = (root / "byom-mcp.log").open("wb")
        self.proc = subprocess.Popen(
            [*cmd, "mcp", "--http", "--port", str(self.port)], env=env, stdout=self.log, stderr=self.log
        )
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.token_file = root / "byom" / "mcp_token"  # generated on first start, before it listens

    def headers(self) -> dict[str, str]:
        """What every MCP client sends: the token `byom mcp --http` requires, loopback included."""
        return {"Authorization": f"Bearer {self.token_file.read_text().strip()}"}

    async def wait_listening(self) -> None:
        async def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"byom mcp exited with {self.proc.returncode}")
            try:
                with anyio.fail_after(5):
                    stream = await anyio.connect_tcp("127.0.0.1", self.port)
                await stream.aclose()
                return True
            except OSError:
                return False

        await _wait(up, "byom mcp --http to listen", timeout=120)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


async def _soak(
    seconds: float,
    clients: int,
    mcp_url: str,
    mcp_headers: dict[str, str],
    http: httpx2.AsyncClient,
    jobs: list[str],
    model: Path,
    pids: dict[str, int],
) -> SoakReport:
    report = SoakReport(seconds=seconds)
    report.processes = {name: Series() for name in pids}
    handles = {name: psutil.Process(pid) for name, pid in pids.items()}
    start = time.monotonic()
    deadline = start + seconds

    def record(tool: str, began: float, error: str | None) -> None:
        if error is None:
            report.calls[tool] += 1
            report.latencies.setdefault(tool, []).append(time.monotonic() - began)
        else:
            report.errors.append(f"{tool}: {error[:300]}")

    async def mcp_client(i: int) -> None:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("job_status", {"job_id": jobs[i % 2]}),
            ("list_jobs", {"limit": 10}),
            ("inspect_hf_model", {"model": str(model)}),
        ]
        async with (
            httpx2.AsyncClient(headers=mcp_headers, timeout=httpx2.Timeout(30.0, read=300.0)) as mcp_http,
            Client(streamable_http_client(mcp_url, http_client=mcp_http)) as client,
        ):
            n = i
            while time.monotonic() < deadline:
                tool, args = calls[n % len(calls)]
                n += 1
                began = time.monotonic()
                try:
                    result = await client.call_tool(tool, args)
                    text = " ".join(getattr(c, "text", "") for c in result.content)
                    record(tool, began, text if result.is_error else None)
                except Exception as exc:  # noqa: BLE001 - every failure is a counted error of the soak
                    record(tool, began, f"{type(exc).__name__}: {exc}")

    async def chat() -> None:
        body = {"model": "local/soak", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                r = await http.post("/v1/chat/completions", json=body)
                ok = r.status_code == 200 and r.json()["choices"][0]["message"]["role"] == "assistant"
                record("chat.completions", began, None if ok else f"{r.status_code} {r.text}")
            except Exception as exc:  # noqa: BLE001
                record("chat.completions", began, f"{type(exc).__name__}: {exc}")

    async def sample() -> None:
        while True:
            for name, proc in handles.items():
                with proc.oneshot():
                    report.processes[name].samples.append(
                        (time.monotonic() - start, proc.memory_info().rss, proc.num_fds())
                    )
            if time.monotonic() >= deadline:
                return
            await anyio.sleep(SAMPLE_S)

    steps_before = await _steps(http, jobs)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sample)
        tg.start_soon(chat)
        for i in range(clients):
            tg.start_soon(mcp_client, i)
    report.seconds = time.monotonic() - start
    report.steps_trained = await _steps(http, jobs) - steps_before
    return report


async def _steps(http: httpx2.AsyncClient, jobs: list[str]) -> int:
    return sum([(await http.get(f"/v1/fine-tunes/{j}")).json()["steps_completed"] or 0 for j in jobs])


def run_soak(root: Path, seconds: float, clients: int = 4) -> SoakReport:
    """The whole soak under ``root``: engine, MCP server, jobs, endpoint, clients; everything stopped after."""
    model = make_tiny_llama(root / "tiny" / "model")
    model_id = _register_base(root / "engine", model)
    with engine_process(root, allow_dir=model.parent) as (base, engine):
        mcp = _MCPServer(root, base, model.parent)
        try:

            async def main() -> SoakReport:
                headers = {"Authorization": f"Bearer {KEY}"}
                async with httpx2.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
                    jobs = await _setup(http, root, model, model_id)
                    await mcp.wait_listening()
                    pids = {"engine": engine.pid, "byom-mcp": mcp.proc.pid}
                    try:
                        return await _soak(seconds, clients, mcp.url, mcp.headers(), http, jobs, model, pids)
                    finally:
                        for job in jobs:
                            await http.post(f"/v1/fine-tunes/{job}/cancel")

            return anyio.run(main)
        finally:
            mcp.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=4, help="concurrent MCP clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="byom-soak-") as tmp:
        report = run_soak(Path(tmp), args.seconds, args.clients)
    print(report.render())
    if report.errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
