"""The engine as a real process: the official ``together`` SDK against it, and ``kill -9`` mid-job."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.config import Settings, read_engine_key
from byom.engine.service import ensure_engine_key, serve
from byom.errors import ConfigError
from support.engine import HANG_S, TEMPLATE, EngineProcess, job_body, wait_file_sync
from support.poll import until_sync

pytestmark = pytest.mark.slow


def _wait(get: Any, job_id: str, done: tuple[str, ...], timeout: float = HANG_S) -> Any:
    def ended() -> Any:
        job = get(job_id)
        return job if (job["status"] if isinstance(job, dict) else job.status) in done else None

    return until_sync(ended, f"job {job_id} to reach {done}", timeout=timeout, interval=0.2)


def _trainer(data_dir: Path, job_id: str) -> tuple[int, Path]:
    """The running trainer's pid and the job's directory, as the engine recorded them."""
    with contextlib.closing(sqlite3.connect(f"file:{data_dir / 'engine.db'}?mode=ro", uri=True)) as db:
        pid, spec = db.execute("SELECT pid, spec FROM jobs WHERE id = ?", (job_id,)).fetchone()
    assert pid, "the job has no trainer process"
    return int(pid), Path(json.loads(spec)["job_dir"])


def _freeze(pid: int, job_dir: Path) -> int:
    """Stop the trainer's process group where it is; the last step its progress file records."""
    os.killpg(pid, signal.SIGSTOP)
    until_sync(
        lambda: "\tT" in Path(f"/proc/{pid}/status").read_text().split("State:")[1][:4],
        "the trainer to stop",
        timeout=60,
    )
    steps = [0]
    for raw in (job_dir / "progress.jsonl").read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):  # a line cut short by the stop
            line = json.loads(raw)
            if line.get("kind") == "metric":
                steps.append(line["step"])
    return max(steps)


def test_together_sdk_drives_the_engine(
    engine_process: EngineProcess,
    tiny_model: Path,
    overfit_bytes: bytes,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    import httpx
    from together import Together

    # Count what the SDK sends (its own transport, unchanged): a retried POST would show here.
    posts: list[str] = []

    def seen(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/v1/files":
            posts.append(str(request.url))

    http_client = httpx.Client(event_hooks={"request": [seen]})
    request.addfinalizer(http_client.close)  # the SDK does not close a client it was given
    client = Together(
        base_url=engine_process.url,
        api_key=engine_process.key,
        project_id="proj_local",
        http_client=http_client,
    )
    path = tmp_path / "train.jsonl"
    path.write_bytes(overfit_bytes)
    uploaded = client.files.upload(file=path, purpose="fine-tune")
    assert uploaded.id.startswith("file-") and uploaded.bytes == len(overfit_bytes)
    # Uploading the same content again returns the existing file (409 + x-should-retry: false, one POST).
    posts.clear()
    again = client.files.upload(file=path, purpose="fine-tune")
    assert again.id == uploaded.id and len(posts) == 1, posts
    file = until_sync(
        lambda: f if (f := client.files.retrieve(uploaded.id)).processing_status != "PENDING" else None,
        "the upload to be validated",
        interval=0.1,
    )
    assert file.processing_status == "COMPLETED"
    assert [f.id for f in client.files.list().data] == [uploaded.id]

    # create() calls limits and estimate-price first, then POST /v1/fine-tunes.
    job = client.fine_tuning.create(
        training_file=uploaded.id,
        model=TEMPLATE,
        from_hf_model=str(tiny_model),
        n_epochs=20,
        n_checkpoints=20,
        batch_size=2,  # 160 steps: still running when cancelled
        learning_rate=1e-2,
        packing=False,
        suffix="sdk",
        train_on_inputs="auto",
    )
    assert job.id.startswith("ft-") and job.status in ("queued", "running", "pending")
    _wait(lambda i: client.fine_tuning.retrieve(i), job.id, ("running",))
    until_sync(lambda: client.fine_tuning.list_checkpoints(job.id).data, "a checkpoint", interval=0.2)
    retrieved = client.fine_tuning.retrieve(job.id)
    assert retrieved.user_id and retrieved.from_hf_model == str(tiny_model)
    assert [j.id for j in client.fine_tuning.list().data] == [job.id]
    events = client.fine_tuning.list_events(job.id).data
    assert events[0].type == "job_pending" and all(e.object == "fine-tune-event" for e in events)
    checkpoint = client.fine_tuning.list_checkpoints(job.id).data[0]
    assert checkpoint.step > 0 and checkpoint.checkpoint == "adapter"

    cancelled = client.fine_tuning.cancel(job.id)
    assert cancelled.status in ("cancel_requested", "cancelled")
    final = _wait(lambda i: client.fine_tuning.retrieve(i), job.id, ("cancelled",))
    assert final.status == "cancelled"
    metrics = client.fine_tuning.list_metrics(job.id, global_step_from=1)
    assert metrics.metrics and all("train/loss" in m for m in metrics.metrics)
    limits = client.fine_tuning.model_limits(model_name=TEMPLATE)
    assert limits.lora_training.max_rank >= 8
    assert client.files.content(uploaded.id).read() == overfit_bytes
    archive = client.fine_tuning.content(ft_id=job.id, checkpoint_step=checkpoint.step).read()
    assert archive[:2] == b"\x1f\x8b"  # gzip
    client.fine_tuning.delete(job.id)
    assert client.fine_tuning.list().data == []
    assert client.files.delete(uploaded.id).deleted is True
    me = client.whoami()
    assert me.type == "project_api_key" and me.project.id == "proj_local" and me.project.slug == "local"


def test_kill_9_mid_job_then_restart_finishes_the_job(
    tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> None:
    first = EngineProcess(tmp_path / "engine", tiny_model.parent).start()
    try:
        headers = {"Authorization": f"Bearer {first.key}"}
        with httpx2.Client(base_url=first.url, headers=headers, timeout=30) as http:
            checksum = hashlib.sha256(overfit_bytes).hexdigest()
            form = {
                "purpose": "fine-tune",
                "file_name": "t.jsonl",
                "file_type": "jsonl",
                "checksum": checksum,
            }
            r = http.post("/v1/files", files={k: (None, v) for k, v in form.items()})
            assert (
                http.put(
                    r.headers["location"], content=overfit_bytes, headers={"Authorization": ""}
                ).status_code
                == 200
            )
            file_id = r.headers["x-together-file-id"]
            http.post(f"/v1/files/{file_id}/preprocess")
            wait_file_sync(http, file_id)
            # 96 steps, a checkpoint every 24.
            body = job_body(file_id, tiny_model, n_epochs=12, n_checkpoints=4, batch_size=2)
            job = http.post("/v1/fine-tunes", json=body).json()
            assert "id" in job, job

            def past_a_checkpoint() -> bool:
                state = http.get(f"/v1/fine-tunes/{job['id']}").json()
                assert state["status"] in ("queued", "running"), state
                return bool(state["steps_completed"] >= 25)  # a checkpoint is on disk

            until_sync(past_a_checkpoint, f"job {job['id']} to pass its first checkpoint", interval=0.1)
            # Freeze the trainer where it is, so the kill lands mid-training however fast this machine is.
            frozen_at = _freeze(*_trainer(tmp_path / "engine", job["id"]))
            assert frozen_at < 96, f"the trainer finished before it could be frozen (step {frozen_at})"
    finally:
        first.kill()  # SIGKILL: no shutdown, no cleanup

    second = EngineProcess(tmp_path / "engine", tiny_model.parent, port=first.port).start()
    try:
        assert second.key == first.key
        with httpx2.Client(base_url=second.url, headers=headers, timeout=30) as http:
            done = _wait(
                lambda i: http.get(f"/v1/fine-tunes/{i}").json(),
                job["id"],
                ("completed", "error", "cancelled"),
            )
            assert done["status"] == "completed", done
            assert done["steps_completed"] == done["total_steps"] == 96
            events = http.get(f"/v1/fine-tunes/{job['id']}/events").json()["data"]
            restarted = [e for e in events if e["type"] == "job_restarted"]
            assert restarted and "checkpoint at step" in restarted[0]["message"]
            assert [e["type"] for e in events].count("job_complete") == 1
            steps = sorted(
                c["step"] for c in http.get(f"/v1/fine-tunes/{job['id']}/checkpoints").json()["data"]
            )
            assert steps == sorted(set(steps)) and steps[-1] == 96
            metrics = http.get(f"/v1/fine-tunes/{job['id']}/metrics").json()["metrics"]
            assert [m["train/global_step"] for m in metrics] == [float(s) for s in range(1, 97)]
    finally:
        second.stop()


def test_engine_key_file_and_refusal_to_expose_without_a_key(tmp_path: Path) -> None:
    assert read_engine_key(tmp_path / "nowhere") is None
    with pytest.raises(ConfigError, match="--api-key"):
        serve("0.0.0.0", 8377, tmp_path / "engine", None, Settings(data_dir=tmp_path))
    assert not (tmp_path / "engine" / "api_key").exists()
    key = ensure_engine_key(tmp_path / "engine")
    assert read_engine_key(tmp_path / "engine") == key == ensure_engine_key(tmp_path / "engine")
    assert (tmp_path / "engine" / "api_key").stat().st_mode & 0o777 == 0o600
