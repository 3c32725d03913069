"""Server start to the first `tools/list` answer over stdio: byom-mcp vs mcp-server-fetch.

Both servers are launched the way an MCP host launches them, alternately, N times each; the
clock runs from process spawn to the line holding the tools/list response. Also prints the size
of byom-mcp's tools/list payload (budget: 16,000 characters).

    python bench/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def time_to_tools_list(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdin and proc.stdout
    for msg in (INIT, INITIALIZED, LIST):
        proc.stdin.write(json.dumps(msg) + "\n")
    proc.stdin.flush()
    try:
        for line in proc.stdout:
            msg = json.loads(line)
            if msg.get("id") == 2:
                elapsed = time.perf_counter() - start
                return elapsed, json.dumps(msg["result"])
        raise RuntimeError(f"{command[0]} closed stdout before answering tools/list")
    finally:
        proc.stdin.close()
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    servers = {
        "byom-mcp": [str(bindir / "byom-mcp")],
        "mcp-server-fetch": [shutil.which("mcp-server-fetch", path=str(bindir)) or "mcp-server-fetch"],
    }
    times: dict[str, list[float]] = {name: [] for name in servers}
    payload = ""
    for _ in range(args.runs):
        for name, cmd in servers.items():
            elapsed, result = time_to_tools_list(cmd)
            times[name].append(elapsed)
            if name == "byom-mcp":
                payload = result
    print(f"start -> first tools/list over stdio, {args.runs} runs each (alternating)")
    for name, values in times.items():
        print(
            f"  {name:18s} median {statistics.median(values) * 1000:7.0f} ms   min {min(values) * 1000:7.0f} ms"
        )
    ratio = statistics.median(times["byom-mcp"]) / statistics.median(times["mcp-server-fetch"])
    print(
        f"  ratio byom-mcp / mcp-server-fetch (median): {ratio:.2f}  ({'OK' if ratio <= 1.0 else 'SLOWER'})"
    )
    tools = json.loads(payload)["tools"]
    print(f"byom-mcp tools/list payload: {len(payload)} characters for {len(tools)} tools (budget 16,000)")


if __name__ == "__main__":
    main()
