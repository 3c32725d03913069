"""`byom-mcp` launched as a host launches it: stdout carries JSON-RPC and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from byom.server import TOOLS

BYOM_MCP = Path(sys.executable).parent / "byom-mcp"


def _rpc(id_: int | None, method: str, params: dict | None = None) -> str:
    msg: dict = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        msg["id"] = id_
    if params is not None:
        msg["params"] = params
    return json.dumps(msg) + "\n"


@pytest.mark.slow
def test_stdio_carries_only_json_rpc(tiny_llama_dir: Path, tmp_path: Path) -> None:
    assert BYOM_MCP.exists(), "install the package (pip install -e .) so the byom-mcp script exists"
    requests = "".join(
        [
            _rpc(
                1,
                "initialize",
                {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "smoke", "version": "0"},
                },
            ),
            _rpc(None, "notifications/initialized"),
            _rpc(2, "tools/list", {}),
            _rpc(3, "tools/call", {"name": "inspect_hf_model", "arguments": {"model": str(tiny_llama_dir)}}),
            _rpc(
                4,
                "tools/call",
                {"name": "inspect_hf_model", "arguments": {"model": str(tmp_path / "missing")}},
            ),
        ]
    )
    replies: dict[int, dict] = {}
    with (
        (tmp_path / "stderr.log").open("w") as stderr,  # a file: a full stderr pipe would stall the server
        subprocess.Popen(
            [str(BYOM_MCP), "-vv"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        ) as proc,
    ):
        assert proc.stdin and proc.stdout
        proc.stdin.write(requests)
        proc.stdin.flush()
        # Keep stdin open until every reply is in: closing it ends the session and cancels requests.
        for line in proc.stdout:
            msg = json.loads(line)  # every stdout line is a JSON-RPC message
            assert msg.get("jsonrpc") == "2.0"
            if "id" in msg:
                replies[msg["id"]] = msg
            if {1, 2, 3, 4} <= set(replies):
                break
        proc.stdin.close()
        for line in proc.stdout.read().splitlines():
            if line.strip():
                assert json.loads(line).get("jsonrpc") == "2.0"
        returncode = proc.wait(timeout=30)
    assert set(replies) >= {1, 2, 3, 4}
    # Every tool, in the server's workflow order (one list: byom.server.TOOLS).
    assert [t["name"] for t in replies[2]["result"]["tools"]] == [t.name for t in TOOLS]
    assert replies[3]["result"]["isError"] is False
    assert replies[3]["result"]["structuredContent"]["is_causal_lm"] is True
    assert replies[4]["result"]["isError"] is True
    assert returncode == 0  # exits promptly and cleanly when stdin closes
