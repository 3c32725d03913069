"""Secrets are not on any command line (``/proc/*/cmdline`` is readable by every user of the machine), and the
data dir byom-mcp and its autostarted engine write is private (files 0600, dirs 0700) and holds no canary.

byom-mcp runs over stdio as a host runs it, with canaries in HF_TOKEN, WANDB_API_KEY and the engine's own key
(BYOM_ENGINE_API_KEY): it starts the engine, which starts a trainer subprocess for a real job. Every process's
command line is read on each poll while the job runs, and once more at the end. (TOGETHER_API_KEY would switch
byom-mcp to Together's cloud; tests/tools/test_tool_secrets.py covers that key against the engine.)
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import psutil
import pytest

from support.engine import FAST_JOB
from support.mcp_stack import TERMINAL, Session, Stack, ok
from support.poll import until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

HF_TOKEN = "hf_CANARYcmdline4b1d9e"
WANDB_KEY = "CANARY-cmdline-wandb-0c7f"
ENGINE_KEY = "CANARY-cmdline-engine-key-61aa"
CANARIES = (HF_TOKEN, WANDB_KEY, ENGINE_KEY)


def _command_lines() -> list[str]:
    lines = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        lines.append("\0".join(cmdline))
    return lines


def _leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [c for c in CANARIES if c.encode() in text]
    return [c for c in CANARIES if c in text]


async def test_no_secret_on_a_command_line_or_in_a_world_readable_file(
    tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> None:
    train = tmp_path / "train.jsonl"
    train.write_bytes(overfit_bytes)
    stack = Stack(
        tmp_path,
        tiny_model.parent,
        HF_TOKEN=HF_TOKEN,
        WANDB_API_KEY=WANDB_KEY,
        BYOM_ENGINE_API_KEY=ENGINE_KEY,
    )
    seen_lines: list[str] = []
    try:
        async with stack.session(Session()) as client:
            args = {
                "training_file": str(train),
                "from_hf_model": str(tiny_model),
                "wandb_project_name": "canary-project",  # so the W&B key travels to the engine
                **FAST_JOB,
            }
            created = ok(await client.call_tool("create_finetune", args))
            assert created["status"] == "created", created

            async def ended() -> dict[str, Any] | None:
                seen_lines.extend(_command_lines())  # every process's command line while the job runs
                status = ok(
                    await client.call_tool("job_status", {"job_id": created["job_id"], "wait_seconds": 2})
                )
                return status if status["status"] in TERMINAL else None

            status = await until(ended, "the job to end", interval=0)  # each call waits up to 2 s itself
            assert status["status"] == "completed", status
            seen_lines += _command_lines()
        assert any("byom" in line and "engine" in line for line in seen_lines)  # the engine was listed
        leaked = [line.replace("\0", " ") for line in seen_lines if _leaks(line)]
        assert leaked == []

        loose, with_canary = [], []
        for path in [stack.data, *stack.data.rglob("*")]:
            mode = stat.S_IMODE(path.lstat().st_mode)
            if path.is_symlink():
                continue
            if mode & 0o077:
                loose.append(f"{path.relative_to(tmp_path)} {oct(mode)}")
            if path.is_file() and _leaks(path.read_bytes()):
                with_canary.append(str(path.relative_to(tmp_path)))
        assert loose == []
        assert with_canary == []
    finally:
        stack.stop_engine()
