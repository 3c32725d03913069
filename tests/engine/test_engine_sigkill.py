"""The engine as a real process, killed with SIGKILL at a random point of an upload, of training, of a checkpoint
save and of an endpoint start, then started again on the same data dir: nothing stuck, lost or corrupt.

Each kill point is drawn from ``random.Random(seed)`` within its phase (which chunk of the upload, which step,
which checkpoint, how long into the model load), so a run is reproducible: the seed is printed with the point.
``BYOM_FAULT_SEEDS=1,2,3`` runs more seeds. After every restart the same invariants are checked: every list
route answers 200, no job stays in a non-terminal state (each interrupted one resumes, with a ``job_restarted``
event, and completes), every listed file's content has the sha256 that was sent, no half upload is listed,
every listed checkpoint is complete (its weights load, its state names its step), and a deployment is READY or
FAILED, never left PROVISIONING. The counts of faults injected and survived are printed at the end.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
import random
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from support.engine import API_KEY, TERMINAL, EngineProcess, P, job_body
from support.poll import until_sync

pytestmark = pytest.mark.slow

SEEDS = [int(s) for s in os.environ.get("BYOM_FAULT_SEEDS", "1").split(",") if s.strip()]
READY, PROVISIONING, FAILED = (f"DEPLOYMENT_STATE_{s}" for s in ("READY", "PROVISIONING", "FAILED"))

# phase → [injected, survived]; printed once the module's tests are done.
FAULTS: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])


@pytest.fixture(scope="module", autouse=True)
def _report_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"  {phase}: injected {n}, survived {ok}" for phase, (n, ok) in sorted(FAULTS.items())]
    text = "\nSIGKILL faults (seeds " + ",".join(map(str, SEEDS)) + "):\n" + "\n".join(lines)
    if reporter is not None:
        reporter.write_line(text)
    else:
        print(text)


def _point(phase: str, seed: int, what: str, value: Any) -> None:
    FAULTS[phase][0] += 1
    print(f"[{phase}] seed {seed}: SIGKILL at {what} {value}")


def _engine(data_dir: Path, allow_dir: Path, port: int | None = None) -> EngineProcess:
    return EngineProcess(data_dir, allow_dir, port=port, api_key=API_KEY).start()


def _upload(http: httpx2.Client, data: bytes, name: str) -> str:
    """The SDK's three-step upload, waited until validated; the file id."""
    form = {
        "purpose": "fine-tune",
        "file_name": name,
        "file_type": "jsonl",
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    r = http.post("/v1/files", files={k: (None, v) for k, v in form.items()})
    assert r.status_code == 302, r.text
    put = http.put(r.headers["location"], content=data, headers={"Authorization": ""})
    assert put.status_code == 200, put.text
    file_id = r.headers["x-together-file-id"]
    assert http.post(f"/v1/files/{file_id}/preprocess").status_code == 200
    until_sync(
        lambda: http.get(f"/v1/files/{file_id}").json()["processing_status"] != "PENDING", "validation"
    )
    return file_id


def _db(data_dir: Path) -> contextlib.closing[sqlite3.Connection]:
    """The engine's database, read-only (what the API does not show: pids, paths)."""
    return contextlib.closing(sqlite3.connect(f"file:{data_dir / 'engine.db'}?mode=ro", uri=True))


def _trainer_pid(data_dir: Path, job_id: str) -> int | None:
    with _db(data_dir) as db:
        row = db.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return int(row[0]) if row and row[0] else None


def _job_dir(data_dir: Path, job_id: str) -> Path:
    with _db(data_dir) as db:
        (spec,) = db.execute("SELECT spec FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return Path(json.loads(spec)["job_dir"])


def _killpg(pid: int | None) -> None:
    """SIGKILL a trainer's process group (it leads its own session), as a crash of the machine would."""
    if pid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def _temp_uploads(data_dir: Path) -> list[Path]:
    """Upload temp files the engine has written to (an upload in progress, or one a kill cut short)."""
    return [p for p in (data_dir / "uploads").glob("up-*") if p.stat().st_size > 0]


class Scenario:
    """One data dir through every phase; ``crash_and_restart`` is the fault, ``check`` what must survive it."""

    def __init__(self, seed: int, root: Path, tiny_model: Path, data: bytes) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.tiny_model = tiny_model
        self.data = data
        self.sent: dict[str, bytes] = {}  # file id → the bytes uploaded (only uploads that finished)
        self.engine = _engine(root / "engine", tiny_model.parent)
        self.http = self._client()

    def _client(self) -> httpx2.Client:
        return httpx2.Client(
            base_url=self.engine.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60
        )

    @property
    def data_dir(self) -> Path:
        return self.engine.data_dir

    def crash_and_restart(self) -> None:
        """SIGKILL the engine (if a phase has not already) and start it again on the same data dir and port."""
        self.engine.kill()
        self.http.close()
        self.engine = _engine(self.data_dir, self.engine.allow_dir, port=self.engine.port)
        self.http = self._client()

    def close(self) -> None:
        self.http.close()
        self.engine.stop()

    def check(self, *, wait_jobs: bool) -> None:
        """What must hold after any restart: lists answer, files intact, no job stuck, checkpoints whole."""
        http = self.http
        for route in ("/v1/files", "/v1/fine-tunes", f"{P}/endpoints", f"{P}/models"):
            r = http.get(route)
            assert r.status_code == 200, (route, r.status_code, r.text)
        assert not _temp_uploads(self.data_dir), "a cut upload's temp file survived the restart"
        listed = {f["id"]: f for f in http.get("/v1/files").json()["data"]}
        assert set(listed) == set(self.sent), f"listed {sorted(listed)}, uploaded {sorted(self.sent)}"
        for file_id, data in self.sent.items():
            assert listed[file_id]["bytes"] == len(data)
            assert listed[file_id]["processing_status"] == "COMPLETED", listed[file_id]
            content = http.get(f"/v1/files/{file_id}/content")
            assert hashlib.sha256(content.content).digest() == hashlib.sha256(data).digest(), file_id
        blobs = {p.name for p in (self.data_dir / "blobs").iterdir()}
        assert blobs == {hashlib.sha256(d).hexdigest() for d in self.sent.values()}, "a half blob was kept"
        for job in http.get("/v1/fine-tunes").json()["data"]:
            if wait_jobs:
                job = until_sync(
                    lambda j=job: (
                        (b := http.get(f"/v1/fine-tunes/{j['id']}").json())["status"] in TERMINAL and b
                    ),
                    f"job {job['id']} to end",
                    interval=0.2,
                )
                assert job["status"] == "completed", job
            else:  # re-queued by the recovery, or already running again: never left "running" by a dead trainer
                assert job["status"] in ("queued", "running", *TERMINAL), job
            self.check_checkpoints(job["id"])

    def check_checkpoints(self, job_id: str) -> None:
        """Every listed checkpoint is whole: its weights load and are finite, its state names its own step."""
        from safetensors.torch import load_file

        r = self.http.get(f"/v1/fine-tunes/{job_id}/checkpoints")
        assert r.status_code == 200, r.text
        checkpoints = r.json()["data"]
        steps = [c["step"] for c in checkpoints]
        assert len(steps) == len(set(steps)), f"a checkpoint is listed twice: {steps}"
        for c in checkpoints:
            ckpt = Path(c["path"])
            assert ckpt.is_dir() and not ckpt.name.endswith(".tmp"), f"listed checkpoint {ckpt} is missing"
            weights = load_file(ckpt / "adapter_model.safetensors")
            assert weights and all(bool(t.isfinite().all()) for t in weights.values()), ckpt
            state = json.loads((ckpt / "trainer_state.json").read_text())
            assert state["step"] == c["step"], (ckpt, state)
            assert (ckpt / "trainer_state.pt").stat().st_size > 0

    # ---- (a) upload ----------------------------------------------------------------------------------
    def upload_put(self) -> None:
        """The SDK's PUT cut mid-body: not listed, no temp file, and its URL still takes the whole file."""
        chunk = 64 * 1024
        # Whole JSONL lines (valid training data), a few MB: the kill lands well inside the body.
        big = self.data * (4 * 1024 * 1024 // len(self.data))
        n_chunks = -(-len(big) // chunk)
        form = {"purpose": "fine-tune", "file_name": "big.jsonl", "checksum": hashlib.sha256(big).hexdigest()}
        r = self.http.post("/v1/files", files={k: (None, v) for k, v in form.items()})
        location, cut_id = r.headers["location"], r.headers["x-together-file-id"]
        at = self.rng.randrange(1, n_chunks - 1)
        _point("upload (PUT)", self.seed, "chunk", f"{at}/{n_chunks}")
        engine = self.engine

        def body() -> Iterator[bytes]:
            for i in range(n_chunks):
                if i == at:
                    # The engine has the upload's temp file open and written to: kill it there.
                    until_sync(lambda: _temp_uploads(engine.data_dir), "the upload's temp file")
                    engine.kill()
                    return
                yield big[i * chunk : (i + 1) * chunk]

        with pytest.raises(httpx2.TransportError):
            self.http.put(location, content=body(), headers={"Authorization": ""})
        self.crash_and_restart()
        self.check(wait_jobs=True)
        assert self.http.get(f"/v1/files/{cut_id}").json()["Processed"] is False
        assert self.http.get(f"/v1/files/{cut_id}/content").status_code == 404
        FAULTS["upload (PUT)"][1] += 1
        assert self.http.put(location, content=big, headers={"Authorization": ""}).status_code == 200
        assert self.http.post(f"/v1/files/{cut_id}/preprocess").status_code == 200
        until_sync(
            lambda: self.http.get(f"/v1/files/{cut_id}").json()["processing_status"] != "PENDING",
            "validation",
        )
        self.sent[cut_id] = big

    def upload_multipart(self) -> None:
        """The one-step multipart upload cut mid-body: nothing of it is kept."""
        chunk = 64 * 1024
        boundary = "byomfaultboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="other.jsonl"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        other = self.data * (2 * 1024 * 1024 // len(self.data))
        n_chunks = -(-len(other) // chunk)
        at = self.rng.randrange(1, n_chunks - 1)
        _point("upload (multipart)", self.seed, "chunk", f"{at}/{n_chunks}")
        engine = self.engine

        def body() -> Iterator[bytes]:
            yield head
            for i in range(n_chunks):
                if i == at:
                    engine.kill()
                    return
                yield other[i * chunk : (i + 1) * chunk]

        with pytest.raises(httpx2.TransportError):
            self.http.post(
                "/v1/files/upload",
                content=body(),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        self.crash_and_restart()
        self.check(wait_jobs=True)
        FAULTS["upload (multipart)"][1] += 1

    # ---- (b) training, (c) checkpoint save ------------------------------------------------------------
    def training_and_checkpoint_save(self) -> str:
        """A 24-step job with a checkpoint every 2 steps, killed at a random step (the engine only: its trainer
        notices and stops), then, resumed, killed with its trainer while a random checkpoint is written."""
        body = job_body(self.file_id(), self.tiny_model, n_epochs=6, n_checkpoints=12, batch_size=4)
        job = self.http.post("/v1/fine-tunes", json=body).json()
        job_id, total = job["id"], 24
        at = self.rng.randrange(1, 7)  # from step 1: before the first checkpoint too
        _point("training", self.seed, "step", f"{at}/{total}")
        until_sync(
            lambda: self.http.get(f"/v1/fine-tunes/{job_id}").json()["steps_completed"] >= at,
            f"step {at}",
            interval=0.02,
        )
        self.crash_and_restart()
        self.check(wait_jobs=False)
        events = self.http.get(f"/v1/fine-tunes/{job_id}/events").json()["data"]
        restarted = [e["message"] for e in events if e["type"] == "job_restarted"]
        assert restarted and "resumes from" in restarted[0], [e["type"] for e in events]
        FAULTS["training"][1] += 1

        job_dir = _job_dir(self.data_dir, job_id)
        # A checkpoint the resumed run has yet to write: past the last one listed (the stopped trainer may have
        # saved one more before it noticed the engine was gone).
        listed = self.http.get(f"/v1/fine-tunes/{job_id}/checkpoints").json()["data"]
        choices = list(range(max((c["step"] for c in listed), default=0) + 2, total + 1, 2))
        assert choices, f"the stopped trainer ran to the end before it noticed the kill: {listed}"
        step = choices[int(self.rng.random() * len(choices))]
        _point("checkpoint save", self.seed, "checkpoint", f"step-{step}")
        saving, saved = job_dir / "checkpoints" / f"step-{step}.tmp", job_dir / "checkpoints" / f"step-{step}"
        # Tight polling: the save of a tiny adapter lasts a few hundred ms at most. A poll that misses it sees the
        # saved checkpoint instead, and the kill lands just after the save: still a point of the phase.
        until_sync(lambda: saving.exists() or saved.exists(), saving.name, interval=0.001)
        # The trainer first, as a crash of the machine would: the save stops where it is.
        _killpg(_trainer_pid(self.data_dir, job_id))
        landed = "mid-save" if saving.exists() and not saved.exists() else "just after the save"
        print(f"[checkpoint save] seed {self.seed}: the kill landed {landed}")
        self.crash_and_restart()
        self.check(wait_jobs=True)
        metrics = self.http.get(f"/v1/fine-tunes/{job_id}/metrics").json()["metrics"]
        assert [m["train/global_step"] for m in metrics] == [float(s) for s in range(1, total + 1)]
        steps = sorted(
            c["step"] for c in self.http.get(f"/v1/fine-tunes/{job_id}/checkpoints").json()["data"]
        )
        assert steps == list(range(2, total + 1, 2)), steps
        assert not list((job_dir / "checkpoints").glob("*.tmp")), "a half checkpoint was left behind"
        FAULTS["checkpoint save"][1] += 1
        return job_id

    def file_id(self) -> str:
        return next(i for i, d in self.sent.items() if d == self.data)

    # ---- (d) endpoint start ---------------------------------------------------------------------------
    def endpoint_start(self) -> None:
        """Deploy the fine-tuned model, killed while it loads: it loads again and serves (or is FAILED with a
        message), never left PROVISIONING."""
        models = self.http.get(f"{P}/models").json()["data"]
        model = next(m for m in models if not m["name"].endswith("-adapter"))
        ep = self.http.post(f"{P}/endpoints", json={"name": "my-ft"}).json()
        body = {
            "name": "d1",
            "model": f"projects/proj_local/models/{model['id']}",
            "config": "projects/proj_local/configs/cr_local_cpu",
            "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
        }
        delay = self.rng.uniform(0.0, 1.0)
        _point("endpoint start", self.seed, "seconds after the deploy", f"{delay:.3f}")
        r = self.http.post(f"{P}/endpoints/{ep['id']}/deployments", json=body)
        assert r.status_code == 200, r.text
        route = f"{P}/endpoints/{ep['id']}/deployments/{r.json()['id']}"
        time.sleep(
            delay
        )  # where the kill lands, not a synchronisation: the state is read, and all are checked
        print(
            f"[endpoint start] seed {self.seed}: killed while {self.http.get(route).json()['status']['state']}"
        )
        self.crash_and_restart()
        self.check(wait_jobs=True)
        got = until_sync(
            lambda: (d := self.http.get(route).json())["status"]["state"] != PROVISIONING and d,
            "the deployment to leave PROVISIONING",
            interval=0.1,
        )
        assert got["status"]["state"] in (READY, FAILED), got
        if got["status"]["state"] == FAILED:
            assert got["status"]["message"], got
        else:
            chat = {"model": "local/my-ft", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
            answer = self.http.post("/v1/chat/completions", json=chat)
            assert answer.status_code == 200, answer.text
        FAULTS["endpoint start"][1] += 1


@pytest.fixture
def scenario(
    request: pytest.FixtureRequest, tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> Iterator[Scenario]:
    run = Scenario(request.param, tmp_path, tiny_model, overfit_bytes)
    try:
        yield run
    finally:
        run.close()


@pytest.mark.parametrize("scenario", SEEDS, indirect=True, ids=[f"seed{s}" for s in SEEDS])
def test_sigkill_at_random_points_then_restart(scenario: Scenario) -> None:
    scenario.sent[_upload(scenario.http, scenario.data, "train.jsonl")] = scenario.data
    scenario.upload_put()
    scenario.upload_multipart()
    scenario.training_and_checkpoint_save()
    scenario.endpoint_start()
