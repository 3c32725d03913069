"""The job runner: one trainer subprocess at a time, FIFO queue, progress tailing, cancel, and recovery.

Each job runs as ``python -m byom.engine.trainer <job_dir>/spec.json``. Its ``progress.jsonl``
(``ProgressLine``, see ``trainer/spec.py``) is tailed into the events/metrics/checkpoints tables; the
byte offset read so far is stored in the job row in the same transaction, so a restart neither loses
nor repeats a line. After an engine restart (even ``kill -9``), jobs left ``running`` are re-queued and
resume from their last checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from byom.engine.finetunes.jobs import add_event, set_status
from byom.engine.private import open_private, private_dir
from byom.engine.trainer.spec import TrainSpec

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
)


class _Running:
    def __init__(self, job_id: str, proc: subprocess.Popen[bytes], job_dir: Path) -> None:
        self.job_id = job_id
        self.proc = proc
        self.job_dir = job_dir
        self.signalled_at: float | None = None
        self.rate_origin: tuple[float, int] | None = None  # (time, step) of the first metric of this attempt


class JobRunner:
    """Runs queued jobs one at a time in trainer subprocesses; thread-safe entry points for the API."""

    def __init__(self, db: Database, config: EngineConfig, project: dict[str, str]) -> None:
        self.db = db
        self.config = config
        self.project = project
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: _Running | None = None
        self._lock = threading.Lock()
        # hf_api_token per job: held in memory only, never written to SQLite or spec.json.
        self._hf_tokens: dict[str, str] = {}
        self._device: str | None = None if config.device == "auto" else config.device
        self._device_ready = threading.Event()
        if self._device is not None:
            self._device_ready.set()

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Recover jobs left by a previous run, then start the loop and the device probe."""
        if self._thread is not None:
            return
        self._stop.clear()
        self.recover()
        if not self._device_ready.is_set():
            threading.Thread(target=self._probe_device, name="byom-device-probe", daemon=True).start()
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
        set_status(self.db, job_id, "queued")
        self.wake()

    def cancel(self, job_id: str) -> None:
        """Cancel: a queued job at once; a running one gets SIGTERM, then SIGKILL after the grace period."""
        row = self.db.one("SELECT status FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            return
        if row["status"] in ("pending", "queued"):
            with self.db.transaction() as conn:
                add_event(conn, job_id, "job_stopped", "Job cancelled before it started.")
                set_status(conn, job_id, "cancelled")
            self._hf_tokens.pop(job_id, None)
        elif row["status"] in ("running", "uploading"):
            with self.db.transaction() as conn:
                add_event(conn, job_id, "cancel_requested", "Cancel requested; stopping the trainer.")
                set_status(conn, job_id, "cancel_requested", cancel_requested=1)
        self.wake()

    def device(self, timeout: float = 120.0) -> str:
        """``cuda`` or ``cpu`` (probed in a subprocess so the service never imports torch)."""
        if not self._device_ready.wait(timeout):
            return "cpu"
        return self._device or "cpu"

    def device_label(self) -> str | None:
        return self._device if self._device_ready.is_set() else None

    def _probe_device(self) -> None:
        code = "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')"
        try:
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
            )
            self._device = out.stdout.strip() if out.stdout.strip() in ("cuda", "cpu") else "cpu"
        except (OSError, subprocess.TimeoutExpired):
            self._device = "cpu"
        self._device_ready.set()

    # ---- recovery --------------------------------------------------------------------------------
    def recover(self) -> None:
        """Re-queue what a previous engine process left behind; never leave a job silently stuck."""
        rows = self.db.query(
            "SELECT * FROM jobs WHERE status IN ('pending', 'running', 'uploading', 'cancel_requested')"
            " ORDER BY queue_seq"
        )
        for row in rows:
            job_id = row["id"]
            job_dir = Path(json.loads(row["spec"])["job_dir"])
            _kill_stale(row["pid"], job_dir)
            self._drain(job_id, job_dir, None)
            row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
            if row["status"] == "pending":
                set_status(self.db, job_id, "queued")
            elif row["cancel_requested"]:
                with self.db.transaction() as conn:
                    add_event(
                        conn, job_id, "job_stopped", "Job cancelled (the engine stopped while cancelling)."
                    )
                    set_status(conn, job_id, "cancelled", pid=None)
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
                with self.db.transaction() as conn:
                    add_event(
                        conn,
                        job_id,
                        "job_restarted",
                        f"The engine restarted; the job is queued again and resumes {where}.",
                    )
                    set_status(conn, job_id, "queued", pid=None, seconds_remaining=None)

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
                self._current = None
                self._finish(current, code)
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
            _signal(current.proc, signal.SIGTERM)
        elif time.monotonic() - current.signalled_at > self.config.cancel_grace_s:
            _signal(current.proc, signal.SIGKILL)

    def _start_next(self) -> None:
        row = self.db.one("SELECT * FROM jobs WHERE status = 'queued' ORDER BY queue_seq LIMIT 1")
        if row is None:
            return
        job_id = row["id"]
        try:
            self._launch(row)
        except Exception as exc:
            log.exception("could not start job %s", job_id)
            self._fail(
                job_id, "initialization", f"Could not start the trainer: {type(exc).__name__}: {exc}"[:500]
            )

    def _launch(self, row: Any) -> None:
        job_id = row["id"]
        spec = TrainSpec.model_validate_json(row["spec"])
        job_dir = spec.job_dir
        private_dir(job_dir)
        attempt = row["attempt"] + 1
        resume = self._resume_point(job_id) if attempt > 1 else None
        if resume is not None:
            spec = spec.model_copy(update={"resume_checkpoint": resume[1]})
            # Metrics past the checkpoint will be logged again by the resumed run.
            self.db.execute("DELETE FROM job_metrics WHERE job_id = ? AND step > ?", (job_id, resume[0]))
        progress = job_dir / "progress.jsonl"
        if progress.exists():
            # Each attempt writes a fresh progress file; the old one is kept for the record.
            os.replace(progress, job_dir / f"progress.{attempt - 1}.jsonl")
        spec_path = job_dir / "spec.json"
        with os.fdopen(
            open_private(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w", encoding="utf-8"
        ) as fh:
            fh.write(spec.model_dump_json(indent=2))
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        env["PYTHONUNBUFFERED"] = "1"
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
        log_file = os.fdopen(open_private(job_dir / "trainer.log"), "ab")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "byom.engine.trainer", str(spec_path)],
                cwd=job_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
            )
        finally:
            log_file.close()
        now = time.time()
        set_status(
            self.db,
            job_id,
            "running",
            pid=proc.pid,
            attempt=attempt,
            progress_offset=0,
            started_at=row["started_at"] or now,
            seconds_remaining=None,
        )
        self._current = _Running(job_id, proc, job_dir)

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
        with self.db.transaction() as conn:
            for raw in lines:
                self._apply(conn, job_id, raw, current)
            conn.execute(
                "UPDATE jobs SET progress_offset = ?, updated_at = ? WHERE id = ?",
                (offset + end + 1, time.time(), job_id),
            )

    def _apply(self, conn: Any, job_id: str, raw: bytes, current: _Running | None) -> None:
        try:
            line = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return  # a torn line from a killed trainer
        if not isinstance(line, dict):
            return
        kind = line.get("kind")
        when = float(line.get("time") or time.time())
        step = line.get("step")
        if kind == "event":
            if line.get("type") == "job_complete":
                return  # the engine says so itself, once the outputs are registered
            add_event(
                conn,
                job_id,
                str(line.get("type", "info"))[:64],
                str(line.get("message", "")),
                level=str(line.get("level") or "info"),
                step=step if isinstance(step, int) else None,
                when=when,
            )
        elif kind == "metric" and isinstance(step, int):
            values = {
                k: float(v) for k, v in (line.get("values") or {}).items() if isinstance(v, int | float)
            }
            conn.execute(
                "INSERT INTO job_metrics (job_id, step, logged_at, metrics) VALUES (?, ?, ?, ?)",
                (job_id, step, when, json.dumps(values)),
            )
            total = line.get("total_steps")
            remaining = None
            if current is not None and isinstance(total, int):
                if current.rate_origin is None:
                    current.rate_origin = (when, step)
                t0, s0 = current.rate_origin
                if step > s0 and when > t0:
                    remaining = (total - step) * (when - t0) / (step - s0)
            epoch = values.get("train/epoch")
            conn.execute(
                "UPDATE jobs SET steps_completed = ?, total_steps = COALESCE(?, total_steps),"
                " epochs_completed = COALESCE(?, epochs_completed), seconds_remaining = COALESCE(?, seconds_remaining)"
                " WHERE id = ?",
                (step, total, epoch, remaining, job_id),
            )
        elif kind == "checkpoint" and isinstance(step, int) and line.get("path"):
            conn.execute(
                "INSERT INTO job_checkpoints (job_id, step, created_at, path, checkpoint, final) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    step,
                    when,
                    str(line["path"]),
                    line.get("checkpoint") or "adapter",
                    int(bool(line.get("final"))),
                ),
            )
        elif kind == "result":
            outputs = {k: v for k, v in (line.get("outputs") or {}).items() if v}
            conn.execute(
                "UPDATE jobs SET outputs = ?, token_count = COALESCE(?, token_count), param_count = COALESCE(?, param_count),"
                " total_steps = COALESCE(?, total_steps), status = CASE WHEN status = 'running' THEN 'uploading' ELSE status END"
                " WHERE id = ?",
                (
                    json.dumps(outputs),
                    line.get("token_count"),
                    line.get("param_count"),
                    line.get("total_steps"),
                    job_id,
                ),
            )
        elif kind == "error":
            conn.execute(
                "UPDATE jobs SET error_message = ?, error_stage = ?, error_type = ? WHERE id = ?",
                (str(line.get("message", ""))[:2000], line.get("stage"), line.get("error_type"), job_id),
            )

    # ---- endings ----------------------------------------------------------------------------------
    def _finish(self, current: _Running, code: int) -> None:
        job_id = current.job_id
        self._drain(job_id, current.job_dir, current)
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if row is None:
            return
        if row["cancel_requested"]:
            with self.db.transaction() as conn:
                add_event(conn, job_id, "job_stopped", "Job cancelled; checkpoints saved so far are kept.")
                set_status(conn, job_id, "cancelled", pid=None, seconds_remaining=None)
            self._hf_tokens.pop(job_id, None)
        elif code == 0 and row["outputs"]:
            self._complete(job_id)
        elif self._stop.is_set():
            return  # stopped with the engine: recover() re-queues it at the next start
        else:
            if row["error_message"]:
                # The trainer reported its root error line (and a job_error event) itself.
                set_status(self.db, job_id, "error", pid=None, seconds_remaining=None)
                self._hf_tokens.pop(job_id, None)
            else:
                self._fail(job_id, "training", self._log_tail(current.job_dir, code))

    def _complete(self, job_id: str) -> None:
        row = self.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
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
            conn.execute(
                "UPDATE jobs SET status = 'completed', registry = ?, updated_at = ?, pid = NULL, seconds_remaining = NULL"
                " WHERE id = ?",
                (json.dumps(registry), time.time(), job_id),
            )
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
        try:
            from byom.engine.deploy.registry import register_job_outputs
        except ModuleNotFoundError as exc:
            if exc.name != "byom.engine.deploy.registry":
                raise
            return {}
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
            add_event(conn, job_id, "job_error", message, level="error", stage=stage, error_type=error_type)
            set_status(
                conn,
                job_id,
                "error",
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
        _signal(current.proc, signal.SIGTERM)
        try:
            current.proc.wait(self.config.cancel_grace_s)
        except subprocess.TimeoutExpired:
            _signal(current.proc, signal.SIGKILL)
            current.proc.wait(5)
        with contextlib.suppress(Exception):
            self._finish(current, current.proc.returncode)
        self._current = None


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    # The trainer leads its own session: signal the group so dataloader workers stop too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _die_with_parent() -> None:
    # Linux: the trainer gets SIGKILL when the engine dies (even by kill -9), so no orphan keeps
    # writing to a job that the next engine start re-queues.
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kill_stale(pid: int | None, job_dir: Path) -> None:
    """Kill a trainer left by a dead engine, if that pid still is our trainer for this job."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return
    if "byom.engine.trainer" in cmdline and str(job_dir) in cmdline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for _ in range(50):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
