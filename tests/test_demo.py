"""`byom demo`, the README's first command, run as a newcomer runs it: a subprocess, no key, no network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import byom

pytestmark = pytest.mark.slow

# The tools in the order the demo calls them: the whole conversation.
CALLS = [
    "inspect_hf_model",
    "recommend_base",
    "check_training_data",
    "create_finetune",
    "job_status",
    "evaluate_model",
    "deploy_endpoint",
    "ask_model",
    "manage_endpoint",
]


def test_demo_runs_the_whole_conversation_and_cleans_up(tmp_path: Path) -> None:
    png = tmp_path / "loss.png"
    src = str(Path(byom.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
        "TMPDIR": str(tmp_path),  # the demo's work dir lands here, where the test can look after it
        "TOGETHER_API_KEY": "canary-together-key-never-used",  # the demo must not pass it on
    }
    proc = subprocess.run(
        [sys.executable, "-m", "byom", "demo", "--png", str(png), "--keep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, out[-4000:] + proc.stderr[-4000:]
    assert [name for name in CALLS if f"→ {name}(" in out] == CALLS, out
    positions = [out.index(f"→ {name}(") for name in CALLS]
    assert positions == sorted(positions), out
    assert "12 tools" in out and "BYOM_AUTO_CONFIRM=1" in out, out
    assert "| task loss |" in out and "untrusted-model-output" in out, out
    assert "endpoint deleted" in out and re.search(r"Done in \d+ s", out), out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in out

    # The engine the demo's byom-mcp started is stopped: its holder file is gone, nothing of it runs.
    (work,) = tmp_path.glob("byom-demo-*")
    assert not (work / "data" / "engine" / "engine.pid").exists()
    assert re.search(r"engine \(pid \d+\) stopped", out), out[-2000:]  # and it says so
    server_log = (work / "byom-mcp.log").read_text()
    assert "canary-together-key" not in out + proc.stderr + server_log
    assert "Traceback" not in out
