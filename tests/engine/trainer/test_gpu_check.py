"""bench/gpu_check.sh must not rot while no GPU runs it: its dry mode runs the same code on the CPU at toy size."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_the_gpu_check_runs_dry_on_the_cpu(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "HF_HUB_OFFLINE": "1", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [str(ROOT / "bench" / "gpu_check.sh"), "--dry", "--steps", "2"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.split("\ncheck ")[-1]
    assert "byom trainer path" in table and "fp32, sdpa, each batch padded to its longest sequence" in table
    assert "serve tiny: 4 concurrent completions" in table
    if importlib.util.find_spec("trl") is not None:
        assert "train tiny: tokens/s" in table and "x\n" in table
    else:
        assert "TRL not installed" in table
