"""Cancel against the runner's start: a cancel that answered ``cancelled`` never gets a trainer.

The unit tests drive the runner's steps from the test thread (the app runs without its lifespan, so no
runner thread races them) and cancel at each point between create, submit, claim and spawn. The loop
test cancels at once through the real engine, runner thread and all.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.engine.app import create_app
from byom.engine.state import EngineState
from support.engine import AUTH, BASE_URL, job_body, make_state, upload, wait_job

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stepped(tmp_path: Path, tiny_model: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, EngineState]]:
    """The engine app without its lifespan: the job runner only moves when a test calls it."""
    state = make_state(tmp_path, tiny_model.parent)
    app = create_app(state)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=BASE_URL, headers=AUTH, timeout=30
    ) as client:
        yield client, state
    current = state.runner._current
    if current is not None and current.proc.poll() is None:
        current.proc.kill()
        current.proc.wait(30)
    state.close()


async def _create(client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes) -> dict[str, Any]:
    file = await upload(client, overfit_bytes)
    created = await client.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model, n_epochs=20))
    assert created.status_code == 200, created.text
    return created.json()


def _job_dir(state: EngineState, job_id: str) -> Path:
    row = state.db.one("SELECT spec FROM jobs WHERE id = ?", (job_id,))
    return Path(json.loads(row["spec"])["job_dir"])


def _status(state: EngineState, job_id: str) -> str:
    return str(state.db.one("SELECT status FROM jobs WHERE id = ?", (job_id,))["status"])


def _assert_never_started(state: EngineState, job_id: str) -> None:
    assert _status(state, job_id) == "cancelled"
    assert state.runner._current is None
    assert not (_job_dir(state, job_id) / "trainer.log").exists()
    # Nothing is left for a later tick to start either.
    state.runner._start_next()
    assert state.runner._current is None and _status(state, job_id) == "cancelled"


async def test_cancel_between_insert_and_submit_stays_cancelled(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    submit = state.runner.submit
    answers: list[str] = []

    def cancel_then_submit(job_id: str, token: str | None) -> None:
        # The API's cancel lands after the create's insert ('pending'), before its submit.
        answers.append(state.runner.cancel(job_id)["status"])
        submit(job_id, token)

    state.runner.submit = cancel_then_submit  # type: ignore[method-assign]
    job = await _create(client, tiny_model, overfit_bytes)
    assert answers == ["cancelled"] and job["status"] == "cancelled"
    _assert_never_started(state, job["id"])


async def test_cancel_of_a_queued_job_starts_nothing(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    job = await _create(client, tiny_model, overfit_bytes)
    assert job["status"] == "queued"
    r = await client.post(f"/v1/fine-tunes/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    _assert_never_started(state, job["id"])


async def test_cancel_between_claim_and_spawn_starts_no_trainer(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    job = await _create(client, tiny_model, overfit_bytes)
    row = state.runner._claim_next()
    assert row["id"] == job["id"] and _status(state, job["id"]) == "running"
    # The runner owns the job now: the cancel can only ask it to stop.
    r = await client.post(f"/v1/fine-tunes/{job['id']}/cancel")
    assert r.json()["status"] == "cancel_requested"
    state.runner._launch(row)
    _assert_never_started(state, job["id"])
    events = (await client.get(f"/v1/fine-tunes/{job['id']}/events")).json()["data"]
    assert [e["type"] for e in events][-1] == "job_stopped"


async def test_cancel_while_the_trainer_spawns_stops_it_at_once(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    runner = state.runner
    job = await _create(client, tiny_model, overfit_bytes)
    spawn = runner._spawn
    answers: list[str] = []

    def spawn_then_cancel(*args: Any) -> subprocess.Popen[bytes]:
        proc = spawn(*args)
        answers.append(runner.cancel(job["id"])["status"])  # the process exists; the runner has no handle yet
        return proc

    runner._spawn = spawn_then_cancel  # type: ignore[method-assign]
    runner._start_next()
    current = runner._current
    assert answers == ["cancel_requested"] and current is not None
    # Signalled in the same step that started it, not at a later poll.
    assert current.signalled_at is not None
    current.proc.wait(60)
    runner._tick()
    assert runner._current is None
    done = await wait_job(client, job["id"], timeout=10)
    assert done["status"] == "cancelled"


async def test_a_finished_trainer_is_not_completed_after_a_cancel(
    stepped: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = stepped
    job = await _create(client, tiny_model, overfit_bytes)
    row = state.runner._claim_next()
    assert row is not None
    # Training produced outputs (status uploading), then the cancel arrives before registration.
    state.db.execute(
        "UPDATE jobs SET status = 'uploading', outputs = ? WHERE id = ?",
        (json.dumps({"adapter": str(_job_dir(state, job["id"]))}), job["id"]),
    )
    assert state.runner.cancel(job["id"])["status"] == "cancel_requested"
    state.runner._complete(job["id"])
    assert _status(state, job["id"]) == "cancelled"
    assert state.db.one("SELECT registry FROM jobs WHERE id = ?", (job["id"],))["registry"] is None


async def test_each_status_change_logs_one_line_without_request_contents(
    stepped: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
    overfit_bytes: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = stepped
    secret = "hf_do_not_log_this_token"
    file = await upload(client, overfit_bytes)
    with caplog.at_level(logging.INFO, logger="byom.engine.jobs"):
        created = await client.post(
            "/v1/fine-tunes", json=job_body(file["id"], tiny_model, hf_api_token=secret)
        )
        job_id = created.json()["id"]
        await client.post(f"/v1/fine-tunes/{job_id}/cancel")
    lines = [r.getMessage() for r in caplog.records if r.name == "byom.engine.jobs"]
    assert lines == [f"job {job_id}: pending -> queued", f"job {job_id}: queued -> cancelled"]
    assert not any(secret in line or file["id"] in line for line in caplog.messages)


@pytest.mark.slow
async def test_create_then_cancel_at_once_never_trains(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = engine
    file = await upload(client, overfit_bytes)
    body = job_body(file["id"], tiny_model, n_epochs=20)
    for _ in range(10):
        job = (await client.post("/v1/fine-tunes", json=body)).json()
        answer = (await client.post(f"/v1/fine-tunes/{job['id']}/cancel")).json()["status"]
        assert answer in ("cancelled", "cancel_requested"), answer
        done = await wait_job(client, job["id"])
        assert done["status"] == "cancelled", done
        events = [e["type"] for e in (await client.get(f"/v1/fine-tunes/{job['id']}/events")).json()["data"]]
        assert "job_complete" not in events and "training_complete" not in events
        if answer == "cancelled":
            assert "job_start" not in events
            assert not (_job_dir(state, job["id"]) / "trainer.log").exists()
