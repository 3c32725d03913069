"""`byom` subcommands: the same domain calls as the tools, with flags and stderr for people."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client

from byom.cli import main
from byom.server import build_server

pytestmark = pytest.mark.anyio


async def test_cli_recommend_and_the_tool_give_the_same_recommendation(
    smollm2_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The CLI runs its own event loop: give it a thread.
    await anyio.to_thread.run_sync(main, ["recommend", str(smollm2_dir), "--json"])
    from_cli = json.loads(capsys.readouterr().out)
    async with Client(build_server()) as client:
        result = await client.call_tool("recommend_base", {"model": str(smollm2_dir)})
    assert not result.is_error, result.content
    assert from_cli == result.structured_content
    assert from_cli["base_model"] == "byom/local"  # the local engine's own template
    # The tokenizer's chat template reaches the selection on both paths.
    assert from_cli["custom"]["has_chat_template"] is True


async def test_cli_recommend_together_ranks_togethers_bases_on_the_local_engine(
    smollm2_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await anyio.to_thread.run_sync(main, ["recommend", str(smollm2_dir), "--json", "--together"])
    cloud = json.loads(capsys.readouterr().out)
    await anyio.to_thread.run_sync(main, ["recommend", str(smollm2_dir), "--json"])
    local = json.loads(capsys.readouterr().out)
    assert (
        cloud["backend"] == "together"
        and cloud["alternatives"]
        and '"togethercomputer/llama-2-7b-chat"' in (cloud["next_step"])
    )
    assert local["backend"] == "local" and local["alternatives"] == []
    assert local["base_model"] == "byom/local" and "together=true" in local["explanation"]


@pytest.mark.slow  # a fresh interpreter
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """Newcomer run: `byom check-data F --json | head -c 600` ended in a BrokenPipeError traceback."""
    import os
    import subprocess
    import sys

    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"text": "hello"}) + "\n", encoding="utf-8")
    read, write = os.pipe()
    os.close(read)  # no reader at all: the command's first write meets a closed pipe, whenever it comes
    try:
        done = subprocess.run(
            [sys.executable, "-m", "byom", "check-data", str(data), "--json"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
