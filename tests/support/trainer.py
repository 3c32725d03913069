"""A trainer spec for the tiny model, and the trainer run as the engine runs it (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from byom.engine.trainer import TrainSpec
from support.poll import HANG_S

__all__ = ["make_spec", "read_progress", "run_trainer", "start_trainer"]


def make_spec(job_dir: Path, model: Path | str, data: Path, **overrides: Any) -> TrainSpec:
    base: dict[str, Any] = {
        "job_id": job_dir.name,
        "job_dir": job_dir,
        "from_hf_model": str(model),
        "training_file": data,
        "n_epochs": 3,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "packing": False,
        "lr_scheduler_type": "linear",
        "merge_lora": False,
    }
    return TrainSpec(**{**base, **overrides})


def start_trainer(spec: TrainSpec, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    spec.job_dir.mkdir(parents=True, exist_ok=True)
    path = spec.job_dir / "spec.json"
    path.write_text(spec.model_dump_json(), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "byom.engine.trainer", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )


def run_trainer(
    spec: TrainSpec, timeout: float = HANG_S, env: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]], str]:
    """Run one job to the end; return (exit code, progress lines, combined output)."""
    proc = start_trainer(spec, env)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, read_progress(spec.job_dir), out.decode(errors="replace")


def read_progress(job_dir: Path) -> list[dict[str, Any]]:
    path = job_dir / "progress.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
