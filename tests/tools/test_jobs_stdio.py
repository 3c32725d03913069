"""The whole conversation over stdio, as a host runs it: byom-mcp a subprocess, the local engine a real
process that byom-mcp itself starts (detached) on first use, and that outlives it for the next session."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.mcp_stack import Session, Stack, converse, healthy, ok
from support.poll import alive
from support.tool_calls import text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_conversation_over_stdio_with_an_autostarted_engine_that_outlives_the_server(
    tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> None:
    train = tmp_path / "train.jsonl"
    train.write_bytes(overfit_bytes)
    stack = Stack(tmp_path, tiny_model.parent)
    assert not healthy(stack.url)
    first = Session()
    try:
        async with stack.session(first) as client:
            # The first job tool call starts the engine (detached), then answers from it.
            listed = ok(await client.call_tool("list_jobs", {}))
            assert listed["jobs"] == [] and stack.url in listed["backend"]
            engine_pid = stack.engine_pid()
            assert alive(engine_pid)
            done = await converse(client, first, stack, tiny_model, train)

        # The host closed the session and byom-mcp exited; the engine it started did not.
        assert healthy(stack.url), (stack.data / "engine.log").read_text()

        second = Session()
        async with stack.session(second) as client:
            listed = ok(await client.call_tool("list_jobs", {}))
        assert [j["job_id"] for j in listed["jobs"]] == [done.job_id]
        assert stack.engine_pid() == engine_pid  # the same engine, not a second one
        log = (stack.data / "engine.log").read_text()
        assert done.key not in log and done.key not in stack.log.read_text()
    finally:
        stack.stop_engine()
    assert not healthy(stack.url)


async def test_without_autostart_a_missing_engine_is_a_tool_error_that_says_how_to_start_it(
    tmp_path: Path, tiny_model: Path
) -> None:
    stack = Stack(tmp_path, tiny_model.parent, BYOM_NO_ENGINE_AUTOSTART="1")
    seen = Session()
    async with stack.session(seen) as client:
        result = await client.call_tool("list_jobs", {})
    assert result.is_error
    text = text_of(result)
    assert "byom engine" in text and stack.url in text, text
    assert "Traceback" not in text
    assert not stack.pid_file.exists() and not healthy(stack.url)
