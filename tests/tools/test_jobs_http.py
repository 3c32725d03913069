"""The whole conversation over streamable HTTP: `byom mcp --http` a subprocess, mcp's streamable HTTP client,
the local engine the server starts itself on first use; confirmations answered by elicitation."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.mcp_stack import Session, Stack, converse, healthy, ok

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_conversation_over_streamable_http(
    tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> None:
    train = tmp_path / "train.jsonl"
    train.write_bytes(overfit_bytes)
    stack = Stack(tmp_path, tiny_model.parent)
    seen = Session()
    try:
        with stack.http_server() as url:
            async with stack.http_session(url, seen) as client:
                done = await converse(client, seen, stack, tiny_model, train)
                listed = ok(await client.call_tool("list_jobs", {}))
            # A second session on the same server sees the job: HTTP sessions share the server's state.
            async with stack.http_session(url, Session()) as client:
                again = ok(await client.call_tool("list_jobs", {}))
        assert [j["job_id"] for j in listed["jobs"]] == [done.job_id] == [j["job_id"] for j in again["jobs"]]
        assert listed["jobs"][0]["status"] == "completed"
        assert done.key not in stack.log.read_text()
    finally:
        stack.stop_engine()
    assert not healthy(stack.url)
