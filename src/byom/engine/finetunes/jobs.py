"""Fine-tune job rows: events, status changes and the JSON the API answers with."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from byom.engine.db import Database, iso
from byom.engine.finetunes.bodies import (
    FinetuneCheckpoint,
    FinetuneEvent,
    FinetuneJob,
    JobEcho,
    JobError,
    JobProgress,
)

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "Event",
    "add_event",
    "checkpoint_payload",
    "event_payload",
    "job_payload",
    "queue_depth",
    "transition",
]

log = logging.getLogger("byom.engine.jobs")

# Together's job statuses (ref together-api-2026-11 §2.9); terminal per the SDK's COMPLETED_STATUSES.
TERMINAL = ("completed", "error", "user_error", "cancelled")
ACTIVE = ("pending", "queued", "running", "uploading", "cancel_requested")
USER_ID = "user_local"


def add_event(
    db: Database | sqlite3.Connection,
    job_id: str,
    type: str,
    message: str,
    *,
    level: str = "info",
    step: int | None = None,
    when: float | None = None,
    **extra: Any,
) -> None:
    """Append one ``FinetuneEvent`` to the job's event log (messages are truncated: they may carry log text).

    Pass the connection of a ``db.transaction()`` to make a status change and the event that explains it
    one write: a client that sees the new status then always finds its event.
    """
    db.execute(
        "INSERT INTO job_events (job_id, created_at, type, level, message, step, extra) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            job_id,
            when or time.time(),
            type,
            level,
            message[:4000],
            step,
            json.dumps(extra) if extra else None,
        ),
    )


@dataclass(frozen=True)
class Event:
    """The event that explains a status change (written in the same transaction)."""

    type: str
    message: str
    level: str = "info"
    extra: dict[str, Any] = field(default_factory=dict)


def transition(
    db: Database | sqlite3.Connection,
    job_id: str,
    allowed: Iterable[str],
    status: str,
    event: Event | None = None,
    **fields: Any,
) -> str | None:
    """Move a job from one of ``allowed`` to ``status`` (compare-and-set), with its event; the old status.

    The one place a job's status changes. ``None``, and nothing written, when the job is not in an
    ``allowed`` status any more: a concurrent change (a cancel, the runner's claim) won, and the caller
    must not act as if its change had happened. Pass a ``db.transaction()`` connection to add more
    writes to the same transaction.
    """
    if isinstance(db, Database):
        with db.transaction() as conn:
            return transition(conn, job_id, allowed, status, event, **fields)
    row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None or row["status"] not in tuple(allowed):
        return None
    old = str(row["status"])
    values = {"status": status, "updated_at": time.time(), **fields}
    assignments = ", ".join(f"{name} = ?" for name in values)
    cursor = db.execute(
        f"UPDATE jobs SET {assignments} WHERE id = ? AND status = ?", (*values.values(), job_id, old)
    )
    if cursor.rowcount != 1:
        return None
    if event is not None:
        add_event(db, job_id, event.type, event.message, level=event.level, **event.extra)
    if old != status:
        # Ids and statuses only: never the request, its files or a token.
        log.info("job %s: %s -> %s", job_id, old, status)
    return old


def queue_depth(db: Database, row: Any) -> int:
    """Jobs ahead of this one (the running one included); 0 once it runs."""
    if row["status"] not in ("pending", "queued"):
        return 0
    ahead = db.one(
        "SELECT COUNT(*) AS n FROM jobs WHERE (status IN ('pending', 'queued') AND queue_seq < ?)"
        " OR status IN ('running', 'uploading', 'cancel_requested')",
        (row["queue_seq"],),
    )
    return int(ahead["n"]) if ahead else 0


def job_payload(db: Database, row: Any) -> FinetuneJob:
    """The job as the API shows it (``FinetuneResponse``, SDK 3.1.1 fields; ref together-api-2026-11 §2.8)."""
    echo = JobEcho.from_stored(json.loads(row["request"]))
    spec = json.loads(row["spec"])
    registry = json.loads(row["registry"]) if row["registry"] else {}
    remaining = row["seconds_remaining"]
    running = remaining is not None and row["status"] == "running"
    return FinetuneJob(
        **echo.model_dump(exclude_none=True),
        id=row["id"],
        job_id=row["id"],
        status=row["status"],
        user_id=USER_ID,
        owner_address=USER_ID,
        created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]),
        started_at=iso(row["started_at"]),
        model_output_name=row["model_output_name"],
        output_name=row["model_output_name"],
        adapter_output_name=f"{row['model_output_name']}-adapter"
        if spec.get("training_type") == "lora"
        else None,
        total_price=0,
        token_count=row["token_count"] or 0,
        param_count=row["param_count"] or 0,
        steps_completed=row["steps_completed"],
        total_steps=row["total_steps"] or 0,
        epochs_completed=int(row["epochs_completed"] or 0),
        queue_depth=queue_depth(db, row),
        progress=JobProgress(estimate_available=running, seconds_remaining=int(remaining) if running else 0),
        model_object_id=registry.get("model_object_id"),
        model_object_name=registry.get("model_object_name"),
        model_object_revision_id=registry.get("model_object_revision_id"),
        adapter_object_id=registry.get("adapter_object_id"),
        adapter_object_name=registry.get("adapter_object_name"),
        adapter_object_revision_id=registry.get("adapter_object_revision_id"),
        error=JobError(message=row["error_message"], stage=row["error_stage"], type=row["error_type"])
        if row["error_message"]
        else None,
    )


def event_payload(row: Any) -> FinetuneEvent:
    """One stored event as the API shows it; optional fields an event carries come from its ``extra``."""
    extra = json.loads(row["extra"]) if row["extra"] else {}
    fixed = ("object", "created_at", "type", "level", "message", "step")
    known = {k: v for k, v in extra.items() if k in FinetuneEvent.model_fields and k not in fixed}
    return FinetuneEvent(
        **known,
        created_at=iso(row["created_at"]),
        type=row["type"],
        level=row["level"],
        message=row["message"],
        step=row["step"] if row["step"] is not None else 0,
    )


def checkpoint_payload(row: Any) -> FinetuneCheckpoint:
    return FinetuneCheckpoint(
        step=row["step"],
        created_at=iso(row["created_at"]),
        path=row["path"],
        checkpoint_type="Final" if row["final"] else "Intermediate",
        checkpoint=row["checkpoint"],
        object_id=row["object_id"] or None,
        object_name=row["object_name"] or None,
        object_revision_id=row["object_revision_id"] or None,
    )
