"""A job restarted after the engine died: what the dead attempt logged past the restart point is not kept.

The runner is driven from the test thread (the app runs without its lifespan) and the dead attempt is played
by progress lines written to the job's progress file, as its trainer would have written them: no timing, the
crash lands exactly where each test puts it. The relaunched trainer is a no-op process.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.engine.app import create_app
from byom.engine.state import EngineState
from support.engine import AUTH, BASE_URL, job_body, make_state, upload

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stepped(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx2.AsyncClient, EngineState]]:
    state = make_state(tmp_path, tiny_model.parent)
    spawned: list[subprocess.Popen[bytes]] = []

    def no_trainer(argv: list[str], job_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        spawned.append(subprocess.Popen([sys.executable, "-c", "pass"]))
        return spawned[-1]

    monkeypatch.setattr(state.runner, "_spawn", no_trainer)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=create_app(state)), base_url=BASE_URL, headers=AUTH, timeout=30
    ) as client:
        yield client, state
    for proc in spawned:
        proc.wait(30)
    state.close()


async def _running_job(client: httpx2.AsyncClient, state: EngineState, tiny_model: Path, data: bytes) -> Path:
    """A 12-step job with a checkpoint every 4 steps, claimed by the runner (attempt 1); its job dir."""
    file = await upload(client, data)
    body = job_body(file["id"], tiny_model, n_epochs=3, n_checkpoints=3, batch_size=4)
    created = await client.post("/v1/fine-tunes", json=body)
    assert created.status_code == 200, created.text
    row = state.runner._claim_next()
    assert row["attempt"] == 1
    return Path(json.loads(row["spec"])["job_dir"])


def _progress(job_dir: Path, *lines: dict[str, Any]) -> None:
    job_dir.mkdir(parents=True, exist_ok=True)
    with (job_dir / "progress.jsonl").open("a") as fh:
        for line in lines:
            fh.write(json.dumps({"time": time.time(), **line}) + "\n")


def _metric(step: int) -> dict[str, Any]:
    return {"kind": "metric", "step": step, "total_steps": 12, "values": {"train/loss": 1.0 / step}}


def _checkpoint(job_dir: Path, step: int, final: bool = False) -> dict[str, Any]:
    path = job_dir / "checkpoints" / f"step-{step}"
    path.mkdir(parents=True)
    return {"kind": "checkpoint", "step": step, "path": str(path), "checkpoint": "adapter", "final": final}


def _crash_and_relaunch(state: EngineState) -> str:
    """The engine started again: recovery re-queues the job, the runner claims and launches it."""
    state.runner.recover()
    row = state.runner._claim_next()
    assert row["attempt"] == 2
    state.runner._launch(row)
    return str(row["id"])


async def test_restart_before_the_first_checkpoint_logs_each_step_once(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    job_dir = await _running_job(client, state, tiny_model, overfit_bytes)
    _progress(job_dir, _metric(1), _metric(2), _metric(3))  # killed at step 3, before the checkpoint at 4
    job_id = _crash_and_relaunch(state)
    # The new attempt starts from the beginning: it logs steps 1-3 again, so the dead attempt's are gone.
    assert state.db.query("SELECT step FROM job_metrics WHERE job_id = ?", (job_id,)) == []
    metrics = (await client.get(f"/v1/fine-tunes/{job_id}/metrics")).json()["metrics"]
    assert metrics == []


async def test_restart_after_the_final_checkpoint_lists_it_once(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    job_dir = await _running_job(client, state, tiny_model, overfit_bytes)
    _progress(job_dir, *(_metric(s) for s in range(1, 5)), _checkpoint(job_dir, 4))
    _progress(job_dir, *(_metric(s) for s in range(5, 13)), _checkpoint(job_dir, 12, final=True))
    # Killed while saving the outputs (after the final checkpoint, before the result): the new attempt resumes
    # from step 4 (a final checkpoint is not a resume point) and writes the final checkpoint again.
    state.runner._drain(str(state.db.one("SELECT id FROM jobs")["id"]), job_dir, None)
    job_id = _crash_and_relaunch(state)
    spec = json.loads((job_dir / "spec.json").read_text())
    assert spec["resume_checkpoint"] == str(job_dir / "checkpoints" / "step-4")
    listed = (await client.get(f"/v1/fine-tunes/{job_id}/checkpoints")).json()["data"]
    assert [c["step"] for c in listed] == [4]
    steps = [r["step"] for r in state.db.query("SELECT step FROM job_metrics WHERE job_id = ?", (job_id,))]
    assert steps == [1, 2, 3, 4]


async def test_an_ending_not_recorded_at_shutdown_is_logged_and_recovered_at_the_next_start(
    stepped: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
    overfit_bytes: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, state = stepped
    job_dir = await _running_job(client, state, tiny_model, overfit_bytes)
    job_id = str(state.db.one("SELECT id FROM jobs")["id"])
    state.runner._launch(state.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,)))
    state.runner.cancel(job_id)  # the trainer stops for the cancel...
    state.runner._current.proc.wait(30)
    # ...and the engine shuts down before its runner records the ending, with the progress file unreadable.
    progress = job_dir / "progress.jsonl"
    progress.unlink(missing_ok=True)
    progress.mkdir()
    state.runner._stop.set()
    state.runner._shutdown_current()
    # Not lost silently: the log and the job's own events say the ending is still to be recorded.
    assert any(job_id in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    events = (await client.get(f"/v1/fine-tunes/{job_id}/events")).json()["data"]
    assert any("records the job's final state when it starts again" in e["message"] for e in events)
    assert state.db.one("SELECT status FROM jobs WHERE id = ?", (job_id,))["status"] == "cancel_requested"
    progress.rmdir()
    state.runner.recover()  # the next start
    assert state.db.one("SELECT status FROM jobs WHERE id = ?", (job_id,))["status"] == "cancelled"


async def test_an_ending_the_runner_could_not_record_is_recorded_at_its_next_tick(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    await _running_job(client, state, tiny_model, overfit_bytes)
    job_id = str(state.db.one("SELECT id FROM jobs")["id"])
    state.runner._launch(state.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,)))
    state.runner.cancel(job_id)  # the trainer stops for the cancel...
    state.runner._current.proc.wait(30)
    # ...and the store refuses the write that records the ending (a full disk, an I/O error) once.
    with state.db.transaction() as conn:
        conn.execute(
            "CREATE TRIGGER refuse_the_ending BEFORE UPDATE OF status ON jobs WHEN NEW.status = 'cancelled'"
            " BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
    with pytest.raises(sqlite3.Error, match="disk I/O error"):
        state.runner._tick()
    with state.db.transaction() as conn:
        conn.execute("DROP TRIGGER refuse_the_ending")
    state.runner._tick()  # the runner still holds the job, so this tick records how it ended
    assert state.db.one("SELECT status FROM jobs WHERE id = ?", (job_id,))["status"] == "cancelled"
    assert state.runner._current is None
