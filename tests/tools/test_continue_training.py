"""Iterate: a finished local job's output is the next job's from_hf_model, and the tools say the call.

Through a real MCP client against the real engine (in-process, over ASGI, its job runner training for real).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from byom.engine.state import EngineState
from byom.tools import AppState
from support.mcp_stack import TERMINAL, Session
from support.poll import until
from support.tool_calls import call_ok

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _finished(client: Client, job_id: str) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        status = await call_ok(client, "job_status", {"job_id": job_id, "wait_seconds": 10})
        return status if status["status"] in TERMINAL else None

    done = await until(ended, f"job {job_id} to end", interval=0)
    assert done["status"] == "completed", done
    return done


async def test_a_continued_job_trains_from_the_previous_jobs_output(
    jobs_server: MCPServer[AppState],
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
    tool_args: dict[str, Any],
) -> None:
    engine = engine_transport[1]
    async with Client(jobs_server, elicitation_callback=Session().elicit) as client:
        first = (await call_ok(client, "create_finetune", tool_args))["job_id"]
        done = await _finished(client, first)
        outputs = json.loads(engine.db.one("SELECT outputs FROM jobs WHERE id = ?", (first,))["outputs"])
        merged = outputs["merged"]  # a LoRA job's full weights, base and adapter merged
        call = f"create_finetune(from_hf_model={merged!r}, model={done['model']!r}, training_file=<the next data>)"
        assert done["continue_with"] == call and call in done["next_step"], done

        # The call as job_status gave it, with the next data file.
        args = {**tool_args, "from_hf_model": merged, "model": done["model"]}
        second = (await call_ok(client, "create_finetune", args))["job_id"]
        await _finished(client, second)

    spec = json.loads(engine.db.one("SELECT spec FROM jobs WHERE id = ?", (second,))["spec"])
    assert Path(spec["from_hf_model"]) == Path(merged).resolve()  # the trainer loaded the first job's weights
    assert Path(merged).is_relative_to(engine.data_dir / "jobs" / first)
