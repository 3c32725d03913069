"""Every job tool, with no engine running and autostart off: an error result that says how to start it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from byom.config import Settings
from byom.server import build_server
from support.engine import free_port

pytestmark = pytest.mark.anyio

FT = "ft-00000000-0000-0000-0000-000000000000"
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_jobs", {}),
    ("job_status", {"job_id": FT}),
    ("cancel_job", {"job_id": FT}),
    ("create_finetune", {"training_file": "train.jsonl", "from_hf_model": "org/name"}),
    ("deploy_endpoint", {"job_id": FT}),
    ("manage_endpoint", {"endpoint": "ep_x"}),
]


@pytest.mark.parametrize(("tool", "arguments"), CALLS, ids=[c[0] for c in CALLS])
async def test_a_missing_engine_is_an_error_result_naming_byom_engine(
    tmp_path: Path, tool: str, arguments: dict[str, Any]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        data_dir=tmp_path / "byom", cache_dir=tmp_path / "cache", engine_url=url, engine_autostart=False
    )
    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error
    text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
    assert "byom engine" in text and url in text, text
