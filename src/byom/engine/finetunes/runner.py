"""The job runner: one trainer subprocess at a time, FIFO queue, progress tailing, cancel, and recovery.

Each job runs as ``python -m byom.engine.trainer <job_dir>/spec.json``. Its ``progress.jsonl``
(``ProgressLine``, see ``trainer/spec.py``) is tailed into the events/metrics/checkpoints tables; the
byte offset read so far is stored in the job row in the same transaction, so a restart neither loses
nor repeats a line. After an engine restart (even ``kill -9``), jobs left ``running`` are re-queued and
resume from their last checkpoint.

Every status change is a compare-and-set (``jobs.transition``), so an API cancel and the runner never
overwrite each other: the runner claims a job (queued → running) before it spawns anything, a job
whose cancel answered ``cancelled`` never gets a trainer, and a cancel that lands while the trainer
starts stops it as soon as the process exists. Process handling is portable (psutil, ``process.py``): the trainer
leads its own process group and watches the engine's pid itself, so it never outlives the engine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byom.engine import devices
from byom.engine.deploy.registry import register_job_outputs
from byom.engine.disk import storage_error
from byom.engine.finetunes.jobs import Event, add_event, transition
from byom.engine.finetunes.process import kill_stale, signal_trainer, spawn_trainer
from byom.engine.finetunes.progress import Rate, apply_line
from byom.engine.trainer import PARENT_PID_ENV, TrainSpec, parse_progress_line
from byom.errors import root_error_line
from byom.storage import open_private, private_dir

if TYPE_CHECKING:
    from byom.engine.db import Database
    from byom.engine.state import EngineConfig

__all__ = ["MAX_ATTEMPTS", "JobRunner"]

log = logging.getLogger("byom.engine.finetunes.runner")

# A job that keeps dying with the engine is failed rather than restarted forever.
MAX_ATTEMPTS = 4
# Secrets of this process that a trainer must never inherit (it gets HF_TOKEN only when a job gave one).
_SCRUBBED_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "TOGETHER_API_KEY",
    "BYOM_ENGINE_API_KEY",
    "WANDB_API_KEY",
    "BYOM_MCP_TOKEN",
)


# Statuses from which each ending may happen (the CAS of ``transition``).
_STARTED = ("running", "uploading", "cancel_requested")
_CANCELLED_BEFORE_START = Event("job_stopped", "Job cancelled before it started.")


class _Running:
    def __init__(self, job_id: str, proc: subprocess.Popen[bytes], job_dir: Path) -> None:
        self.job_id = job_id
        self.proc = proc
        self.job_dir = job_dir
        self.signalled_at: float | None = None
        self.rate = Rate()


class JobRunner:
    """Runs queued jobs one at a time in trainer subprocesses; thread-safe entry points for the API."""

    def __init__(self, db: Database, config: EngineConfig, project: dict[str, str], data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir
        self.config = config
        self.project = project
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: _Running | None = None
        # Serialises a cancel with the registration of a finished job's outputs: one of them wins whole.
        self._lock = threading.Lock()
        # hf_api_token per job: held in memory only, never written to SQLite or spec.json.
        self._hf_tokens: dict[str, str] = {}

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Recover jobs left by a previous run, then start the loop and the device probe."""
        if self._thread is not None:
            return
        self._stop.clear()
        self.recover()
        # Warm the one device probe (deploy configs need it whatever --device says), so /health, the first
        # job and the first deployment body need not wait for it.
        threading.Thread(target=devices.probe_devices, name="byom-device-probe", daemon=True).start()
        self._thread = threading.Thread(target=self._loop, name="byom-job-runner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop; a running trainer is stopped and its job resumes at the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.cancel_grace_s + 10)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    # ---- API entry points ------------------------------------------------------------------------
    def submit(self, job_id: str, hf_token: str | None) -> None:
        """Queue a pending job (its token, if any, is held before the job can start)."""
        if hf_token:
            self._hf_tokens[job_id] = hf_token
        if transition(self.db, job_id, ("pending",), "queued") is None:
            self._hf_tokens.pop(job_id, None)  # cancelled between its insert and now: stays cancelled
        self.wake()

    def cancel(self, job_id: str) -> Any:
        """Cancel: a pending or queued job at once; a started one gets a stop request (SIGTERM, then kill).

        Returns the job row as this cancel left it (read in the same transaction), so the answer is what
        the cancel did: ``cancelled`` only when no trainer was ever started for this attempt.
        """
        with self._lock, self.db.transaction() as conn:
            if transition(conn, job_id, ("pending", "queued"), "cancelled", _CANCELLED_BEFORE_START):
                self._hf_tokens.pop(job_id, None)
            else:
                transition(
                    conn,
                    job_id,
                    ("running", "uploading"),
                    "cancel_requested",
                    Event("cancel_requested", "Cancel requested; stopping the trainer."),
                    cancel_requested=1,
                )
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        self.wake()
        return row

    def device(self) -> str:
        """The device jobs train on: the configured one, or for ``auto`` mps, then cuda, then cpu."""
        if self.config.device != "auto":
            return self.config.device
        return devices.training_device(devices.probe_devices())

    def device_label(self) -> str | None:
        """``device()`` without waiting: ``None`` while the probe still runs."""
        if self.config.device != "auto":
            return self.config.device
        found = devices.probed_devices()
        return devices.training_device(found) if found is not None else None

    # ---- recovery --------------------------------------------------------------------------------
    def recover(self) -> None:
        """Re-queue what a previous engine process left behind; never leave a job silently stuck."""
        rows = self.db.query(
            "SELECT * FROM jobs WHERE status IN ('pending', 'running', 'uploading', 'cancel_requested')"
            " ORDER BY queue_seq"
        )
        for row in rows:
            try:
                self._recover_one(row)
            except Exception as exc:
                log.exception("could not recover job %s", row["id"])
                self._fail(
                    row["id"], "restart", f"The engine could not resume this job: {root_error_line(exc)}"
                )

    def _recover_one(self, row: Any) -> None:
        job_id = row["id"]
        job_dir = Path(json.loads(row["spec"])["job_dir"])
        kill_stale(row["pid"], job_dir)
        self._drain(job_id, job_dir, None)
        row = self.db.one_or_fail("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row["status"] == "pending":
            transition(self.db, job_id, ("pending",), "queued")
        elif row["cancel_requested"]:
            transition(
                self.db,
                job_id,
                _STARTED,
                "cancelled",
                Event("job_stopped", "Job cancelled (the engine stopped while cancelling)."),
                pid=None,
            )
        elif row["outputs"]:
            # Training had finished; only registration was left.
            self._complete(job_id)
        elif row["attempt"] >= MAX_ATTEMPTS:
            self._fail(
                job_id,
                "restart",
                f"The job was interrupted {row['attempt']} times; not restarting it again.",
            )
        else:
            checkpoint = self._resume_point(job_id)
            where = f"from its checkpoint at step {checkpoint[0]}" if checkpoint else "from the beginning"
            transition(
                self.db,
                job_id,
                ("running", "uploading"),
                "queued",
                Event("job_restarted", f"The engine restarted; the job is queued again and resumes {where}."),
                pid=None,
                seconds_remaining=None,
            )

    def _resume_point(self, job_id: str) -> tuple[int, Path] | None:
        for cp in self.db.query(
            "SELECT step, path FROM job_checkpoints WHERE job_id = ? AND final = 0 ORDER BY step DESC",
            (job_id,),
        ):
            if Path(cp["path"]).is_dir():
                return int(cp["step"]), Path(cp["path"])
        return None

    # ---- the loop --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception:  # keep the runner alive; the failing job is marked by _tick's handlers
                log.exception("job runner tick failed")
            self._wake.wait(self.config.poll_interval_s)
            self._wake.clear()
        self._shutdown_current()

    def _tick(self) -> None:
        current = self._current
        if current is not None:
            self._drain(current.job_id, current.job_dir, current)
            code = current.proc.poll()
            if code is not None:
                # Released only once its ending is recorded: if _finish raises, the next tick records it again.
                self._finish(current, code)
                self._current = None
            else:
                self._maybe_signal(current)
        if self._current is None:
            self._start_next()

    def _maybe_signal(self, current: _Running) -> None:
        row = self.db.one("SELECT cancel_requested FROM jobs WHERE id = ?", (current.job_id,))
        if not row or not row["cancel_requested"]:
            return
        if current.signalled_at is None:
            current.signalled_at = time.monotonic()
            signal_trainer(current.proc, kill=False)
        elif time.monotonic() - current.signalled_at > self.config.cancel_grace_s:
            signal_trainer(current.proc, kill=True)

    def _start_next(self) -> None:
        row = self._claim_next()
        if row is None:
            return
        job_id = row["id"]
        try:
            self._launch(row)
        except Exception as exc:
            log.exception("could not start job %s", job_id)
            refused = storage_error(exc, self.data_dir)  # the job dir: a full disk, a dir made unwritable
            cause = refused.message if refused is not None else f"{type(exc).__name__}: {exc}"
            if not self._cancel_if_requested(job_id):
                self._fail(job_id, "initialization", f"Could not start the trainer: {cause}"[:500])

    def _claim_next(self) -> Any:
        """Take the first queued job (queued → running, compare-and-set); its row as claimed, or ``None``."""
        while True:
            row = self.db.one("SELECT * FROM jobs WHERE status = 'queued' ORDER BY queue_seq LIMIT 1")
            if row is None:
                return None
            claimed = transition(
                self.db,
                row["id"],
                ("queued",),
                "running",
                attempt=row["attempt"] + 1,
                started_at=row["started_at"] or time.time(),
                seconds_remaining=None,
                pid=None,
            )
            if claimed:
                return self.db.one("SELECT * FROM jobs WHERE id = ?", (row["id"],))
            # Cancelled between the read and the claim: try the next one.

    def _cancel_if_requested(self, job_id: str) -> bool:
        """End a claimed job that a cancel reached before its trainer ran; whether it was one."""
        return bool(
            transition(
                self.db,
                job_id,
                ("cancel_requested",),
                "cancelled",
                _CANCELLED_BEFORE_START,
                pid=None,
                seconds_remaining=None,
            )
        )

    def _launch(self, row: Any) -> None:
        """Spawn the trainer of a claimed job (status running, attempt already counted)."""
        job_id = row["id"]
        spec = TrainSpec.model_validate_json(row["spec"])
        if spec.device == "auto":
            spec = spec.model_copy(update={"device": self.device()})
        job_dir = spec.job_dir
        private_dir(job_dir)
        attempt = row["attempt"]
        resume = self._resume_point(job_id) if attempt > 1 else None
        if resume is not None:
            spec = spec.model_copy(update={"resume_checkpoint": resume[1]})
        if attempt > 1:
            # This attempt logs again every step past its start (the checkpoint, or step 0): what a dead attempt
            # logged past it goes, or it is listed twice. That includes a final checkpoint saved before a crash
            # in the final save, which this attempt rewrites (and deletes while rewriting it).
            since = resume[0] if resume is not None else 0
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM job_metrics WHERE job_id = ? AND step > ?", (job_id, since))
                conn.execute("DELETE FROM job_checkpoints WHERE job_id = ? AND step > ?", (job_id, since))
        progress = job_dir / "progress.jsonl"
        if progress.exists():
            # Each attempt writes a fresh progress file; the old one is kept for the record.
            os.replace(progress, job_dir / f"progress.{attempt - 1}.jsonl")
        # Only once the old file is moved away: a crash before this must not re-read its lines.
        self.db.execute("UPDATE jobs SET progress_offset = 0 WHERE id = ?", (job_id,))
        spec_path = job_dir / "spec.json"
        with os.fdopen(
            open_private(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w", encoding="utf-8"
        ) as fh:
            fh.write(spec.model_dump_json(indent=2))
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env["PYTHONUNBUFFERED"] = "1"
        env[PARENT_PID_ENV] = str(os.getpid())  # the trainer's watchdog exits when this process is gone
        token = self._hf_tokens.get(job_id)
        if token:
            env["HF_TOKEN"] = token
        elif row["hf_token_given"]:
            add_event(
                self.db,
                job_id,
                "warning",
                "The Hugging Face token given at creation is never stored, and the engine restarted since: this run"
                " has no token. A gated or private model not in the local cache will fail to download; if it does,"
                " create the job again with hf_api_token.",
                level="warning",
            )
        if self._cancel_if_requested(job_id):
            return  # cancelled while it was being prepared: no trainer at all
        proc = self._spawn([sys.executable, "-m", "byom.engine.trainer", str(spec_path)], job_dir, env)
        current = _Running(job_id, proc, job_dir)
        self._current = current
        self.db.execute("UPDATE jobs SET pid = ? WHERE id = ?", (proc.pid, job_id))
        # A cancel that landed while the process started is honoured now, not one poll later.
        self._maybe_signal(current)

    def _spawn(self, argv: list[str], job_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        return spawn_trainer(argv, job_dir, env)

    # ---- progress ---------------------------------------------------------------------------------
    def _drain(self, job_id: str, job_dir: Path, current: _Running | None) -> None:
        """Read complete new lines of progress.jsonl into the tables, with the offset, atomically."""
        path = job_dir / "progress.jsonl"
        row = self.db.one("SELECT progress_offset FROM jobs WHERE id = ?", (job_id,))
        if row is None or not path.exists():
            return
        offset = row["progress_offset"]
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read()
        end = data.rfind(b"\n")
        if end < 0:
            return
        lines = data[: end + 1].splitlines()
        rate = current.rate if current is not None else None
        with self.db.transaction() as conn:
            for raw in lines:
                line = parse_progress_line(raw)
                if line is None:
                    log.warning(
                        "job %s: skipped a progress line that is not a ProgressLine: %.200r", job_id, raw
                    )
                    continue
                apply_line(conn, job_id, line, rate)
            conn.execute(
                "UPDATE jobs SET progress_offset = ?, updated_at = ? WHERE id = ?",
                (offset + end + 1, time.time(), job_id),
            )

    # ---- endings ----------------------------------------------------------------------------------
    def _finish(self, current: _Running, code: int) -> None:
        job_id = current.job_id
        self._drain(job_id, current.job_dir, current)
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            return
        if row["cancel_requested"]:
            self._cancelled(job_id)
        elif code == 0 and row["outputs"]:
            self._complete(job_id)
        elif self._stop.is_set():
            return  # stopped with the engine: recover() re-queues it at the next start
        else:
            if row["error_message"]:
                # The trainer reported its root error line (and a job_error event) itself.
                transition(self.db, job_id, _STARTED, "error", pid=None, seconds_remaining=None)
                self._hf_tokens.pop(job_id, None)
            else:
                self._fail(job_id, "training", self._log_tail(current.job_dir, code))

    def _cancelled(self, job_id: str) -> None:
        transition(
            self.db,
            job_id,
            _STARTED,
            "cancelled",
            Event("job_stopped", "Job cancelled; checkpoints saved so far are kept."),
            pid=None,
            seconds_remaining=None,
        )
        self._hf_tokens.pop(job_id, None)

    def _complete(self, job_id: str) -> None:
        # Under the lock a cancel either came first (the job ends cancelled, nothing registered) or
        # waits and finds it completed: never registered outputs on a cancelled job.
        with self._lock:
            row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
            if row is None or row["cancel_requested"] or row["status"] not in ("running", "uploading"):
                if row is not None and row["cancel_requested"]:
                    self._cancelled(job_id)
                return
            self._complete_locked(job_id, row)

    def _complete_locked(self, job_id: str, row: Any) -> None:
        outputs = json.loads(row["outputs"] or "{}")
        request = json.loads(row["request"])
        try:
            registry = self._register(job_id, row, outputs, request)
        except Exception as exc:
            log.exception("registering outputs of %s failed", job_id)
            self._fail(
                job_id,
                "saving",
                f"Training finished but registering its outputs failed: {type(exc).__name__}: {exc}"[:500],
            )
            return
        with self.db.transaction() as conn:
            done = transition(
                conn,
                job_id,
                ("running", "uploading"),
                "completed",
                registry=json.dumps(registry),
                pid=None,
                seconds_remaining=None,
            )
            if not done:
                return  # cannot happen under the lock; never overwrite whatever status won
            for kind, prefix in (("model", "model_object"), ("adapter", "adapter_object")):
                if registry.get(f"{prefix}_id"):
                    conn.execute(
                        "UPDATE job_checkpoints SET object_id = ?, object_name = ?, object_revision_id = ?"
                        " WHERE job_id = ? AND final = 1 AND checkpoint = ?",
                        (
                            registry[f"{prefix}_id"],
                            registry[f"{prefix}_name"],
                            registry[f"{prefix}_revision_id"],
                            job_id,
                            kind,
                        ),
                    )
            add_event(
                conn,
                job_id,
                "job_complete",
                f"Job complete: {row['model_output_name']} (registered in the model registry).",
                model_path=outputs.get("merged") or outputs.get("model") or outputs.get("adapter") or "",
            )
        self._hf_tokens.pop(job_id, None)

    def _register(
        self, job_id: str, row: Any, outputs: dict[str, str], request: dict[str, Any]
    ) -> dict[str, Any]:
        project = self.project
        return dict(
            register_job_outputs(
                self.db,
                project_id=project["id"],
                project_slug=project["slug"],
                job_id=job_id,
                output_name=row["model_output_name"],
                template=request.get("model") or "",
                outputs={k: Path(v) for k, v in outputs.items()},
                from_hf_model=request.get("from_hf_model") or "",
            )
        )

    def _fail(self, job_id: str, stage: str, message: str, *, error_type: str | None = None) -> None:
        with self.db.transaction() as conn:
            transition(
                conn,
                job_id,
                (*_STARTED, "pending", "queued"),
                "error",
                Event("job_error", message, "error", {"stage": stage, "error_type": error_type}),
                error_message=message,
                error_stage=stage,
                error_type=error_type,
                pid=None,
                seconds_remaining=None,
            )
        self._hf_tokens.pop(job_id, None)

    @staticmethod
    def _log_tail(job_dir: Path, code: int) -> str:
        try:
            text = (job_dir / "trainer.log").read_bytes()[-4000:].decode("utf-8", "replace")
        except OSError:
            text = ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else ""
        reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return (
            f"The trainer stopped ({reason}). Last log line: {last[:500]}"
            if last
            else f"The trainer stopped ({reason})."
        )

    def _shutdown_current(self) -> None:
        current = self._current
        if current is None:
            return
        with contextlib.suppress(Exception):
            add_event(
                self.db,
                current.job_id,
                "warning",
                "The engine is shutting down: training stops now and resumes from the last checkpoint when the"
                " engine starts again.",
                level="warning",
            )
        signal_trainer(current.proc, kill=False)
        try:
            current.proc.wait(self.config.cancel_grace_s)
        except subprocess.TimeoutExpired:
            signal_trainer(current.proc, kill=True)
            current.proc.wait(5)
        try:
            self._finish(current, current.proc.returncode)
        except Exception as exc:
            # The job keeps its started status, so the next start's recover() reads its progress again and
            # records how it ended; until then it must not look like it simply stopped.
            log.exception(
                "could not record how job %s ended while the engine shut down; the next engine start recovers it",
                current.job_id,
            )
            self._note_unrecorded_end(current.job_id, exc)
        self._current = None

    def _note_unrecorded_end(self, job_id: str, exc: Exception) -> None:
        try:
            add_event(
                self.db,
                job_id,
                "warning",
                f"The engine stopped before it could record how this job ended ({root_error_line(exc)[:300]});"
                " it records the job's final state when it starts again.",
                level="warning",
            )
        except Exception:
            log.exception("could not note the unrecorded end of job %s either", job_id)
