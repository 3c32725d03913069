"""Apply a trainer's progress lines to the job's tables: events, metrics, checkpoints, the result, the error.

The trainer writes typed ``ProgressLine``s (``trainer/spec.py``); the runner reads them back with
``parse_progress_line`` and hands each one here, inside the transaction that also moves the job's progress
offset, so a line is applied exactly once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from byom.engine.finetunes.jobs import Event, add_event, transition
from byom.engine.trainer.spec import (
    CheckpointLine,
    ErrorLine,
    EventLine,
    MetricLine,
    ProgressLine,
    ResultLine,
)

__all__ = ["Rate", "apply_line"]


@dataclass
class Rate:
    """Steps per second of one attempt, measured from its first metric: the job's time remaining."""

    origin: tuple[float, int] | None = None  # (time, step) of the first metric of this attempt

    def remaining(self, when: float, step: int, total: int) -> float | None:
        if self.origin is None:
            self.origin = (when, step)
        t0, s0 = self.origin
        return (total - step) * (when - t0) / (step - s0) if step > s0 and when > t0 else None


def apply_line(conn: Any, job_id: str, line: ProgressLine, rate: Rate | None) -> None:
    """Record ``line`` for ``job_id``; ``rate`` is the running attempt's (``None`` when draining after a crash)."""
    match line:
        case EventLine():
            if line.type == "job_complete":
                return  # the engine says so itself, once the outputs are registered
            add_event(
                conn,
                job_id,
                line.type[:64],
                line.message,
                level=line.level or "info",
                step=line.step,
                when=line.time,
            )
        case MetricLine():
            _metric(conn, job_id, line, rate)
        case CheckpointLine():
            conn.execute(
                "INSERT INTO job_checkpoints (job_id, step, created_at, path, checkpoint, final) VALUES (?, ?, ?, ?, ?, ?)",
                (job_id, line.step, line.time, line.path, line.checkpoint, int(line.final)),
            )
        case ResultLine():
            outputs = {k: v for k, v in line.outputs.items() if v}
            conn.execute(
                "UPDATE jobs SET outputs = ?, token_count = COALESCE(?, token_count), param_count = COALESCE(?, param_count),"
                " total_steps = COALESCE(?, total_steps) WHERE id = ?",
                (json.dumps(outputs), line.token_count, line.param_count, line.total_steps, job_id),
            )
            # The status and the latest event move together: "uploading" is the registering of the outputs.
            transition(
                conn,
                job_id,
                ("running",),
                "uploading",
                Event("model_uploading", "Registering the saved outputs in the model registry."),
            )
        case ErrorLine():
            conn.execute(
                "UPDATE jobs SET error_message = ?, error_stage = ?, error_type = ? WHERE id = ?",
                (line.message[:2000], line.stage, line.error_type, job_id),
            )


def _metric(conn: Any, job_id: str, line: MetricLine, rate: Rate | None) -> None:
    conn.execute(
        "INSERT INTO job_metrics (job_id, step, logged_at, metrics) VALUES (?, ?, ?, ?)",
        (job_id, line.step, line.time, json.dumps(line.values)),
    )
    total = line.total_steps
    remaining = (
        rate.remaining(line.time, line.step, total) if rate is not None and total is not None else None
    )
    conn.execute(
        "UPDATE jobs SET steps_completed = ?, total_steps = COALESCE(?, total_steps),"
        " epochs_completed = COALESCE(?, epochs_completed), seconds_remaining = COALESCE(?, seconds_remaining)"
        " WHERE id = ?",
        (line.step, total, line.values.get("train/epoch"), remaining, job_id),
    )
