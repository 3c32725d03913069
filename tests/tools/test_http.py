"""`byom mcp --http` serves streamable HTTP on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from byom.server import TOOLS

pytestmark = pytest.mark.anyio

BYOM = Path(sys.executable).parent / "byom"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[int]:
    """`byom mcp --http` on a free port; its stderr goes to stderr.log in tmp_path."""
    port = _free_port()
    with (
        (tmp_path / "stderr.log").open("w") as stderr,
        subprocess.Popen([str(BYOM), "mcp", "--http", "--port", str(port)], stderr=stderr) as proc,
    ):
        try:
            _wait_listening(port)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=15)


@pytest.mark.slow
async def test_streamable_http_on_loopback(http_server: int, tiny_llama_dir: Path, tmp_path: Path) -> None:
    async with Client(f"http://127.0.0.1:{http_server}/mcp") as client:
        tools = (await client.list_tools()).tools
        result = await client.call_tool("inspect_hf_model", {"model": str(tiny_llama_dir)})
    assert [t.name for t in tools] == [t.fn.__name__ for t in TOOLS]
    assert not result.is_error and result.structured_content["is_causal_lm"] is True
    assert "127.0.0.1" in (tmp_path / "stderr.log").read_text()
