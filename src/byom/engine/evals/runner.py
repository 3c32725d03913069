"""The evaluation runner: one evaluation at a time, in FIFO order, in one background thread of the engine.

    start ─▶ recover (an evaluation left ``running`` by a stop or a kill → ``error``, with how far it got)
          ─▶ loop: claim the oldest ``pending`` (compare-and-set) ─▶ check its models are served
                   ─▶ KINDS[type].run over the rows ─▶ results file committed ─▶ ``completed``

Samples are streamed from the input file and each result row is written at once to a blob (the files API then
serves it as ``result_file_id``, as on Together), so memory does not grow with the data. Generation goes
through the engine's own serving path (``deploy.generate.chat_answer``). A cancel (or the engine stopping) is
seen after the sample in progress; a cancelled evaluation ends ``user_error`` and keeps no partial file.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from byom.engine.blobs import BlobWriter, blob_path
from byom.engine.db import Database, new_id
from byom.engine.deploy.generate import LOAD_WAIT_S, chat_answer
from byom.engine.deploy.host import SamplingParams
from byom.engine.deploy.runtime import DeployRuntime
from byom.engine.evals import jobs
from byom.engine.evals.kinds import KINDS, EvalContext
from byom.engine.evals.samples import count_rows
from byom.errors import EngineError, InvalidRequest, NotFound, root_error_line

__all__ = ["EvalRunner", "stopped_message"]

log = logging.getLogger("byom.engine.evals")


class _Stopped(Exception):
    """The run was cancelled, or the engine is stopping: end it after the sample in progress."""


def stopped_message(done: int) -> str:
    return (
        f"The engine stopped while this evaluation was running ({done} sample(s) done); partial results are not "
        "kept. Create the evaluation again."
    )


class _ResultFile:
    """The result rows of one run, streamed into a blob; ``commit`` makes it a file (``purpose`` "eval")."""

    def __init__(self, data_dir: Path, max_bytes: int) -> None:
        self._data_dir = data_dir
        self._max_bytes = max_bytes
        self._writer = BlobWriter(data_dir, max_bytes)

    def write(self, row: dict[str, Any]) -> None:
        if not self._writer.write((json.dumps(row, ensure_ascii=False) + "\n").encode()):
            raise InvalidRequest(
                f"The evaluation's results passed the engine's file size cap ({self._max_bytes / 2**30:.2f} GiB). "
                "Evaluate fewer rows, or ask for shorter answers (max_tokens)."
            )

    def commit(self, db: Database, eval_id: str) -> str:
        self._writer.commit()
        file_id = new_id("file")
        db.execute(
            "INSERT INTO files (id, filename, purpose, file_type, checksum, sha256, bytes, created_at,"
            " processing_status) VALUES (?, ?, 'eval', 'jsonl', ?, ?, ?, ?, 'COMPLETED')",
            (
                file_id,
                f"{eval_id}-results.jsonl",
                self._writer.sha256,
                self._writer.sha256,
                self._writer.size,
                int(time.time()),
            ),
        )
        return file_id

    def discard(self) -> None:
        self._writer.discard()


class EvalRunner:
    """Runs pending evaluations one at a time; ``wake`` after a create, ``cancel`` from the API."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        runtime: DeployRuntime,
        *,
        max_result_bytes: int,
        poll_interval_s: float,
    ) -> None:
        self.db = db
        self.data_dir = data_dir
        self.runtime = runtime
        self.max_result_bytes = max_result_bytes
        self.poll_interval_s = poll_interval_s
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self._closing.clear()
        self._thread = threading.Thread(target=self._loop, name="byom-evals", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the sample in progress; an evaluation still running is recorded as stopped."""
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def recover(self) -> None:
        """End what a previous engine left running: its thread is gone, so it will never finish."""
        for row in self.db.query("SELECT id, samples_done FROM evaluations WHERE status = 'running'"):
            message = stopped_message(row["samples_done"])
            if jobs.transition(self.db, row["id"], ("running",), "error", message, results=_error(message)):
                log.warning("evaluation %s was running when the engine stopped; marked error", row["id"])

    def cancel(self, eval_id: str) -> None:
        """Cancel a pending evaluation now, a running one after its current sample."""
        message = "Cancelled at the user's request before it started."
        if jobs.transition(
            self.db, eval_id, ("pending", "queued"), "user_error", message, results=_error(message)
        ):
            return
        self.db.execute(
            "UPDATE evaluations SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (eval_id,)
        )

    # --- the loop --------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._closing.is_set():
            row = self._claim_next()
            if row is None:
                self._wake.wait(self.poll_interval_s)
                self._wake.clear()
                continue
            try:
                self._run(row)
            except Exception:  # the loop must outlive any one evaluation
                log.exception("evaluation %s: the runner failed", row["id"])

    def _claim_next(self) -> Any:
        while True:
            row = self.db.one(
                "SELECT * FROM evaluations WHERE status IN ('pending', 'queued') ORDER BY queue_seq LIMIT 1"
            )
            if row is None:
                return None
            if jobs.transition(self.db, row["id"], ("pending", "queued"), "running", "Evaluation started."):
                return self.db.one("SELECT * FROM evaluations WHERE id = ?", (row["id"],))
            # A cancel won the row meanwhile: look again.

    def _run(self, row: Any) -> None:
        eval_id = row["id"]
        out: _ResultFile | None = None
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            self.db.execute("UPDATE evaluations SET samples_done = ? WHERE id = ?", (done, eval_id))
            if self._closing.is_set() or self._cancel_requested(eval_id):
                raise _Stopped

        try:
            kind = KINDS[row["type"]]
            params = kind.parameters.model_validate(json.loads(row["parameters"]))
            path = self._input(row["input_file"])
            total = count_rows(path)
            if total == 0:
                raise InvalidRequest("The evaluation's input file has no rows. Add at least one JSON line.")
            for model in params.served_models():
                self._check_served(model)
            out = _ResultFile(self.data_dir, self.max_result_bytes)
            ctx = EvalContext(
                input_path=path, runtime=self.runtime, chat=self._chat, write=out.write, step=step
            )
            results = kind.run(params, ctx)
            results["result_file_id"] = out.commit(self.db, eval_id)
            out = None
            jobs.transition(
                self.db,
                eval_id,
                ("running",),
                "completed",
                f"Completed: {done} sample(s).",
                results=json.dumps(results),
            )
        except _Stopped:
            if self._closing.is_set():
                message = stopped_message(done)
                self._end(eval_id, "error", message)
            else:
                self._end(eval_id, "user_error", f"Cancelled at the user's request after {done} sample(s).")
        except (InvalidRequest, NotFound) as exc:  # the data or the models named: the user's to fix
            self._end(eval_id, "user_error", exc.message)
        except EngineError as exc:
            self._end(eval_id, "error", exc.message)
        except Exception as exc:  # told in one line; the log has the traceback
            log.exception("evaluation %s failed", eval_id)
            self._end(
                eval_id, "error", f"The evaluation failed in the engine: {root_error_line(exc)}. See its log."
            )
        finally:
            if out is not None:
                out.discard()

    def _end(self, eval_id: str, status: str, message: str) -> None:
        jobs.transition(self.db, eval_id, ("running",), status, message, results=_error(message))

    def _cancel_requested(self, eval_id: str) -> bool:
        row = self.db.one("SELECT cancel_requested FROM evaluations WHERE id = ?", (eval_id,))
        return row is None or bool(row["cancel_requested"])

    def _input(self, file_id: str) -> Path:
        row = self.db.one("SELECT sha256 FROM files WHERE id = ?", (file_id,))
        path = blob_path(self.data_dir, row["sha256"]) if row is not None and row["sha256"] else None
        if path is None or not path.is_file():
            raise InvalidRequest(
                f"The evaluation's input file {file_id!r} was deleted before the evaluation ran. Upload it again "
                "and create the evaluation again."
            )
        return path

    def _check_served(self, model: str) -> None:
        try:
            self.runtime.resolve(model, wait_s=LOAD_WAIT_S)  # a model served on demand may still be loading
        except EngineError as exc:
            raise InvalidRequest(
                f"The evaluation names model {model[:200]!r}, which cannot answer: {exc.message}"
            ) from None

    def _chat(self, model: str, messages: list[dict[str, str]], params: SamplingParams) -> str:
        return chat_answer(self.runtime, model, messages, params).text


def _error(message: str) -> str:
    return json.dumps({"error": message})
