"""The trainer's parent watchdog: a trainer whose engine dies exits by itself, on any OS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from byom.engine.tiny import write_overfit_dataset
from byom.engine.trainer._watchdog import EXIT_ORPHANED, PARENT_PID_ENV
from support.poll import until_sync

_WATCH = (
    "import time; from byom.engine.trainer._watchdog import watch_parent;"
    " watch_parent(interval_s=0.1, grace_s=0.1); print('watching', flush=True); time.sleep(300)"
)


def _engine_stand_in() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])


def test_the_watchdog_exits_when_the_engine_is_gone() -> None:
    engine = _engine_stand_in()
    child = subprocess.Popen(
        [sys.executable, "-c", _WATCH],
        env={**os.environ, PARENT_PID_ENV: str(engine.pid)},
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"watching\n"
        assert child.poll() is None  # alive while the engine is
        engine.kill()
        engine.wait(30)
        assert child.wait(timeout=30) == EXIT_ORPHANED
    finally:
        for proc in (engine, child):
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        if child.stdout is not None:
            child.stdout.close()


@pytest.mark.slow
def test_a_trainer_whose_engine_dies_exits_by_itself(tmp_path: Path, tiny_model: Path) -> None:
    from byom.engine.trainer import TrainSpec

    job_dir = tmp_path / "ft-orphan"
    job_dir.mkdir()
    data = write_overfit_dataset(tmp_path / "train.jsonl", n=16)
    spec = TrainSpec(
        job_id=job_dir.name,
        job_dir=job_dir,
        from_hf_model=str(tiny_model),
        training_file=data,
        n_epochs=500,  # far longer than the test: only the watchdog can end it in time
        batch_size=1,
        packing=False,
        merge_lora=False,
        device="cpu",
    )
    (job_dir / "spec.json").write_text(spec.model_dump_json(), encoding="utf-8")
    engine = _engine_stand_in()
    trainer = subprocess.Popen(
        [sys.executable, "-m", "byom.engine.trainer", str(job_dir / "spec.json")],
        env={**os.environ, PARENT_PID_ENV: str(engine.pid)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # job_start is written once the watchdog runs.
        progress = job_dir / "progress.jsonl"

        def watching() -> bool:
            assert trainer.poll() is None, f"the trainer exited {trainer.returncode} before it started"
            return progress.exists() and "job_start" in [
                line.get("type") for line in _complete_lines(progress)
            ]

        until_sync(watching, "the trainer's job_start", interval=0.1)
        engine.kill()
        engine.wait(30)
        assert trainer.wait(timeout=60) == EXIT_ORPHANED
        last = _complete_lines(progress)[-1]
        assert last["type"] == "job_stopped" and "engine process exited" in last["message"]
    finally:
        for proc in (engine, trainer):
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)


def _complete_lines(progress: Path) -> list[dict]:
    """The whole lines of a progress file the trainer may still be appending to (a torn last line is skipped)."""
    data = progress.read_bytes()
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines() if line.strip()]
