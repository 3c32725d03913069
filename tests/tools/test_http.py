"""`byom mcp --http` serves streamable HTTP on loopback, to clients that send the token it generated (#14)."""

from __future__ import annotations

import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from byom.config import load_settings
from byom.server import TOOLS
from support.poll import listening, until_sync

pytestmark = pytest.mark.anyio

BYOM = Path(sys.executable).parent / "byom"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, timeout: float = 30) -> None:
    until_sync(lambda: listening(port), f"a server on 127.0.0.1:{port}", timeout=timeout, interval=0.1)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[int]:
    """`byom mcp --http` on a free port; its stdout and stderr (uvicorn logs to both) go to stderr.log in tmp_path."""
    port = _free_port()
    with (
        (tmp_path / "stderr.log").open("w") as stderr,
        subprocess.Popen(
            [str(BYOM), "mcp", "--http", "--port", str(port)], stdout=stderr, stderr=stderr
        ) as proc,
    ):
        try:
            _wait_listening(port)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=15)


@pytest.mark.slow
async def test_streamable_http_on_loopback(http_server: int, tiny_llama_dir: Path, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{http_server}/mcp"
    token_file = load_settings().mcp_token_path  # the suite's data dir, which the server inherited
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # Finding 4: a client without the token (another OS user cannot read the file) is refused.
    refused = httpx2.post(url, json={}, headers={"accept": "application/json, text/event-stream"})
    assert refused.status_code == 401 and str(token_file) in refused.json()["error_description"]
    # Finding 18: a token in the URL is refused, and the URL is not logged.
    in_url = httpx2.post(f"{url}?token={token}", json={}, headers={"authorization": f"Bearer {token}"})
    assert in_url.status_code == 400
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {token}"}, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        tools = (await client.list_tools()).tools
        result = await client.call_tool("inspect_hf_model", {"model": str(tiny_llama_dir)})
    assert [t.name for t in tools] == [t.name for t in TOOLS]
    assert not result.is_error and result.structured_content["is_causal_lm"] is True
    log = (tmp_path / "stderr.log").read_text()
    assert "127.0.0.1" in log and str(token_file) in log  # where it listens, where the token is
    assert token not in log and "?token" not in log and '"POST /mcp" 400' in log
