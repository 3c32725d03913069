"""Overhead of job_status and list_jobs: the MCP server's own time, and the HTTP requests each call makes.

Starts a real engine process on loopback, runs one tiny fine-tune to completion and queues (then cancels) more
jobs, then times, side by side in one run over the same loopback engine:

- the tool call through an in-memory MCP client (argument validation, the backend reads, rendering), and
- the same backend reads made directly with byom's TogetherClient (what any client must pay),

for a toy state (1 job) and a realistic one (50 jobs; the job's full event list). The server's overhead is
the difference of the medians; requests per call are counted at the transport.

    python bench/job_tools.py [--calls 60] [--jobs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.tiny import make_tiny_llama, write_overfit_dataset
from byom.server import build_server
from byom.together import TogetherClient

sys.path.insert(0, str(Path(__file__).parent))
from _engine import KEY, engine_process


class Counting(httpx2.AsyncBaseTransport):
    """Counts the requests that reach the network."""

    def __init__(self) -> None:
        self.inner = httpx2.AsyncHTTPTransport()
        self.count = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.count += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _median_ms(calls: int, fn: Any) -> float:
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


async def run(calls: int, n_jobs: int, root: Path, base: str) -> None:
    model = make_tiny_llama(root / "tiny")
    data = write_overfit_dataset(root / "train.jsonl", n=16)
    settings = Settings(
        data_dir=root / "byom",
        cache_dir=root / "cache",
        engine_url=base,
        engine_api_key=SecretStr(KEY),
        backend_choice="local",
        auto_confirm=True,
        engine_autostart=False,
    )
    tool_net = Counting()
    direct_net = Counting()
    direct = TogetherClient(api_key=KEY, base_url=base, transport=direct_net)
    job_args = {
        "from_hf_model": str(model),
        "training_file": str(data),
        "n_epochs": 3,
        "batch_size": 8,
        "learning_rate": 0.01,
        "lora_r": 8,
        "lora_alpha": 16,
    }
    async with Client(build_server(settings, transport=tool_net)) as client:
        first = await client.call_tool("create_finetune", job_args)
        assert not first.is_error, first.content
        job_id = (first.structured_content or {})["job_id"]
        while True:
            status = await client.call_tool("job_status", {"job_id": job_id, "wait_seconds": 10})
            if (status.structured_content or {}).get("status") in ("completed", "error", "cancelled"):
                break

        async def tool_status() -> None:
            r = await client.call_tool("job_status", {"job_id": job_id, "events": 50})
            assert not r.is_error

        async def direct_status() -> None:
            # The same four reads, the last three concurrently, as the tool makes them.
            await direct.retrieve_finetune(job_id)
            async with anyio.create_task_group() as tg:
                tg.start_soon(direct.finetune_events, job_id)
                tg.start_soon(direct.finetune_checkpoints, job_id)
                tg.start_soon(direct.finetune_metrics, job_id)

        async def tool_list() -> None:
            r = await client.call_tool("list_jobs", {"limit": 100})
            assert not r.is_error

        async def direct_list() -> None:
            await direct.list_finetunes()

        rows = []
        for label, extra in (("toy: 1 job", 0), (f"realistic: {n_jobs} jobs", n_jobs - 1)):
            for i in range(extra):
                created = await client.call_tool(
                    "create_finetune", {**job_args, "suffix": f"q{i}", "force_new": True}
                )
                assert not created.is_error, created.content
                await direct.cancel_finetune((created.structured_content or {})["job_id"])
            for name, tool, raw in (
                ("job_status", tool_status, direct_status),
                ("list_jobs", tool_list, direct_list),
            ):
                await tool()  # warm
                await raw()
                tool_net.count = direct_net.count = 0
                t_ms = await _median_ms(calls, tool)
                requests = tool_net.count / calls
                r_ms = await _median_ms(calls, raw)
                rows.append((label, name, t_ms, r_ms, requests, direct_net.count / calls))
    await direct.aclose()
    print(
        f"{'state':22} {'tool':11} {'tool ms':>8} {'direct ms':>9} {'overhead ms':>11} {'ratio':>6} {'requests':>8}"
    )
    for label, name, t_ms, r_ms, requests, raw_requests in rows:
        print(
            f"{label:22} {name:11} {t_ms:8.2f} {r_ms:9.2f} {t_ms - r_ms:11.2f} {t_ms / r_ms:5.2f}× "
            f"{requests:5.1f} ({raw_requests:.0f} direct)"
        )
    print(f"(median of {calls} calls each; same engine process over loopback; MCP client in memory)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with engine_process(root, allow_dir=root) as (base, _):
            asyncio.run(run(args.calls, args.jobs, root, base))


if __name__ == "__main__":
    main()
