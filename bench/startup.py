"""Server start to the first `tools/list` answer over stdio: byom-mcp vs mcp-server-fetch.

Both servers are launched the way an MCP host launches them, alternately, N times each; the
clock runs from process spawn to the line holding the tools/list response. byom-mcp is timed twice: as every
start after the first finds it (its tool definitions stored under the cache dir by an earlier start, the tools
imported on first call: ``tools/_listing.py``), and as a first start (the cache dir emptied before each run). Also prints the size
of byom-mcp's tools/list payload (budget: 16,000 characters) and where ``import byom.server`` spends its time
(``python -X importtime``, median self time per top-level package over the runs, and byom's heaviest modules).

    python bench/startup.py [--runs 10] [--fetch-path DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
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


def time_to_tools_list(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
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


def import_breakdown() -> tuple[dict[str, float], dict[str, float]]:
    """Self time (ms) of ``import byom.server`` by top-level package, and cumulative ms of byom's own modules."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import byom.server"],
        capture_output=True,
        text=True,
        check=True,
    )
    packages: dict[str, float] = {}
    modules: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[len("import time:") :].split("|"))
        top = name.split(".")[0]
        packages[top] = packages.get(top, 0.0) + int(self_us) / 1000
        if top == "byom":
            modules[name] = int(cumulative_us) / 1000
    return packages, modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument(
        "--fetch-path",
        type=Path,
        help="a folder holding mcp-server-fetch and the dependencies this venv lacks, installed with: pip install "
        "--no-deps --target DIR mcp-server-fetch markdownify readabilipy protego beautifulsoup4 soupsieve html5lib "
        "webencodings lxml regex requests socksio charset-normalizer urllib3 idna certifi six (it runs on this "
        "venv's mcp SDK, as byom-mcp does)",
    )
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    fetch_env = None
    if args.fetch_path is not None:
        fetch = [sys.executable, "-m", "mcp_server_fetch"]
        fetch_env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(args.fetch_path), os.environ.get("PYTHONPATH", "")]),
        }
    elif found := shutil.which("mcp-server-fetch", path=str(bindir)) or shutil.which("mcp-server-fetch"):
        fetch = [found]
    else:
        sys.exit("mcp-server-fetch is not installed here: pip install it, or see --fetch-path in --help")
    cache = Path(tempfile.mkdtemp(prefix="byom-startup-"))
    byom_env = {**os.environ, "BYOM_CACHE_DIR": str(cache / "later")}
    first_env = {**os.environ, "BYOM_CACHE_DIR": str(cache / "first")}
    byom = [str(bindir / "byom-mcp")]
    servers = {
        "byom-mcp": (byom, byom_env),
        "byom-mcp 1st start": (byom, first_env),
        "mcp-server-fetch": (fetch, fetch_env),
    }
    time_to_tools_list(byom, byom_env)  # the start before: stores the definitions
    times: dict[str, list[float]] = {name: [] for name in servers}
    payload = ""
    for _ in range(args.runs):
        for name, (cmd, env) in servers.items():
            shutil.rmtree(cache / "first", ignore_errors=True)
            elapsed, result = time_to_tools_list(cmd, env)
            times[name].append(elapsed)
            if name == "byom-mcp":
                payload = result
    print(f"start -> first tools/list over stdio, {args.runs} runs each (alternating)")
    for name, values in times.items():
        print(
            f"  {name:18s} median {statistics.median(values) * 1000:7.0f} ms   min {min(values) * 1000:7.0f} ms"
        )
    for name in ("byom-mcp", "byom-mcp 1st start"):
        ratio = statistics.median(times[name]) / statistics.median(times["mcp-server-fetch"])
        verdict = "OK" if ratio <= 1.0 else "SLOWER"
        print(f"  ratio {name} / mcp-server-fetch (median): {ratio:.2f}  ({verdict})")
    shutil.rmtree(cache, ignore_errors=True)
    runs = [import_breakdown() for _ in range(max(1, min(args.runs, 5)))]
    every = {name for packages, _ in runs for name in packages}
    median = {name: statistics.median(p.get(name, 0.0) for p, _ in runs) for name in every}
    total = sum(median.values())
    print(f"import byom.server (-X importtime, median of {len(runs)}): {total:.0f} ms of self time")
    for name, ms in sorted(median.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {name:18s} {ms:7.0f} ms  ({ms / total:4.0%})")
    heaviest = {name: statistics.median(m.get(name, 0.0) for _, m in runs) for name in runs[0][1]}
    print("  byom's heaviest modules (cumulative, their imports included):")
    for name, ms in sorted(heaviest.items(), key=lambda kv: -kv[1])[1:7]:  # [0] is byom.server itself
        print(f"    {name:30s} {ms:7.0f} ms")
    tools = json.loads(payload)["tools"]
    model_facing = json.dumps([{k: t[k] for k in ("name", "description", "inputSchema")} for t in tools])
    print(
        f"byom-mcp tools/list: {len(tools)} tools, {len(model_facing):,} characters the model reads (name, "
        f"description, input schema; budget 16,000), {len(payload):,} in all (output schemas included)"
    )


if __name__ == "__main__":
    main()
