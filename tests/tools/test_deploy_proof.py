"""deploy_endpoint reports READY only once one completion came back the way its snippets call; else it says why.

Through a real MCP client against the real engine (in-process, over ASGI); the server reads the engine's key from
its key file, as it does when it started the engine itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import KEY, keyed_settings, register_tiny
from support.tool_calls import text_of

pytestmark = pytest.mark.anyio


async def test_a_key_file_that_changed_under_the_server_is_not_ready_and_names_the_file(
    engine_transport: tuple[httpx2.ASGITransport, EngineState], tiny_model: Path, tmp_path: Path
) -> None:
    settings, key_file = keyed_settings(tmp_path)
    model_id = register_tiny(engine_transport[1], tiny_model).id

    async def confirm_and_lose_the_key(_context: Any, _params: ElicitRequestParams) -> ElicitResult:
        # Meanwhile the engine was started again on another data dir: its key file here holds another key.
        key_file.write_text("a-stale-key")
        return ElicitResult(action="accept", content={"confirm": True})

    server = build_server(settings, transport=engine_transport[0])
    async with Client(server, elicitation_callback=confirm_and_lose_the_key) as client:
        result = await client.call_tool("deploy_endpoint", {"model": model_id, "wait_seconds": 30})
    assert not result.is_error, text_of(result)  # the deployment exists: a result that says so, not an error
    assert result.structured_content is not None
    endpoint = result.structured_content["endpoint"]
    assert endpoint["state"] == "DEPLOYMENT_STATE_READY" and endpoint["ready"] is False, endpoint
    text = text_of(result)
    assert "DEPLOYMENT_STATE_READY, NOT verified: one completion through POST" in text
    assert f"does not take the key in {key_file}" in text and "action='stop'" in text
    assert "a-stale-key" not in text and KEY not in text
