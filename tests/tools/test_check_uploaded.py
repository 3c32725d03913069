"""check_training_data on an uploaded file id: the backend's own validation report and its
`POST /v1/fine-tunes/preview` (the real engine in-process, which implements Together's route)."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from byom.engine.state import EngineState
from byom.tools import AppState
from support.engine import AUTH, BASE_URL, upload
from support.tool_calls import call_error, call_ok, text_of

pytestmark = pytest.mark.anyio


async def _upload(transport: httpx2.ASGITransport, data: bytes) -> str:
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as http:
        return str((await upload(http, data))["id"])


async def test_an_uploaded_file_is_checked_and_previewed_by_the_backend(
    jobs_server: MCPServer[AppState],
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
    overfit_bytes: bytes,
    tiny_model: Path,
) -> None:
    file_id = await _upload(engine_transport[0], overfit_bytes)
    async with Client(jobs_server) as client:
        check = await call_ok(
            client, "check_training_data", {"path": file_id, "model": str(tiny_model), "preview_rows": 2}
        )
        result = await client.call_tool("check_training_data", {"path": file_id, "model": str(tiny_model)})
    report = check["report"]
    assert report["valid"] is True and report["dataset_format"] == "conversation" and report["nlines"] == 16
    assert len(check["preview"]) == 2
    row = check["preview"][0]
    assert row["num_trained_tokens"] > 0 and "⟦" in row["rendered"] and "⟧" in row["rendered"]
    assert "the backend's preview" in check["tokenizer"]
    assert any(file_id in note for note in check["notes"])
    text = text_of(result)
    assert "What the loss sees (untrusted dataset text):\n```untrusted-dataset" in text


async def test_a_file_the_backend_rejected_says_so_with_the_way_out(
    jobs_server: MCPServer[AppState], engine_transport: tuple[httpx2.ASGITransport, EngineState]
) -> None:
    file_id = await _upload(engine_transport[0], b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 3)
    async with Client(jobs_server) as client:
        check = await call_ok(client, "check_training_data", {"path": file_id, "model": "anything"})
    assert check["report"]["valid"] is False and check["preview"] == []
    (problem,) = check["report"]["problems"]
    assert "rejected" in problem["message"] and "check_training_data" in problem["fix"]


async def test_an_unknown_file_id_is_a_clear_error(jobs_server: MCPServer[AppState]) -> None:
    async with Client(jobs_server) as client:
        text = await call_error(
            client, "check_training_data", {"path": "file-00000000-0000-0000-0000-000000000000"}
        )
    assert "No file" in text and "absolute path" in text
