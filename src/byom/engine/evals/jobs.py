"""Evaluation job rows: create, the one status change (compare-and-set), and the job as the API shows it.

    pending ──claim──▶ running ──▶ completed
       │                  ├──────▶ error        (the engine's fault, or it stopped mid-run)
       └──cancel──────────┴──────▶ user_error   (bad data, a model not served, or cancelled)

Every status change goes through ``transition`` with the statuses it may leave, and appends a status update,
so a cancel and the runner never overwrite each other's ending.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from typing import Any

from byom.engine.db import Database, iso, new_id, now
from byom.engine.evals.bodies import EvaluationJob, StatusUpdate
from byom.errors import NotFound

__all__ = ["FINISHED", "create", "get_row", "job_payload", "transition"]

log = logging.getLogger("byom.engine.evals")

FINISHED = ("completed", "error", "user_error")


def create(db: Database, type: str, parameters: dict[str, Any], input_file: str) -> str:
    """Insert a pending evaluation; its id."""
    eval_id = new_id("eval")
    with db.transaction() as conn:
        seq = conn.execute("SELECT COALESCE(MAX(queue_seq), 0) + 1 FROM evaluations").fetchone()[0]
        stamp = now()
        conn.execute(
            "INSERT INTO evaluations (id, type, status, parameters, input_file, queue_seq, created_at, updated_at)"
            " VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)",
            (eval_id, type, json.dumps(parameters), input_file, seq, stamp, stamp),
        )
        _update(
            conn, eval_id, "pending", "Evaluation created; it runs when the engine's earlier evaluations end."
        )
    return eval_id


def _update(conn: sqlite3.Connection, eval_id: str, status: str, message: str) -> None:
    conn.execute(
        "INSERT INTO evaluation_updates (evaluation_id, status, message, created_at) VALUES (?, ?, ?, ?)",
        (eval_id, status, message[:2000], now()),
    )


def transition(
    db: Database, eval_id: str, allowed: Iterable[str], status: str, message: str, **fields: Any
) -> bool:
    """Move an evaluation from one of ``allowed`` to ``status`` with a status update; False when another change won."""
    with db.transaction() as conn:
        row = conn.execute("SELECT status FROM evaluations WHERE id = ?", (eval_id,)).fetchone()
        if row is None or row["status"] not in tuple(allowed):
            return False
        values = {"status": status, "updated_at": now(), **fields}
        assignments = ", ".join(f"{name} = ?" for name in values)
        conn.execute(f"UPDATE evaluations SET {assignments} WHERE id = ?", (*values.values(), eval_id))
        _update(conn, eval_id, status, message)
    log.info("evaluation %s: %s -> %s", eval_id, row["status"], status)
    return True


def get_row(db: Database, eval_id: str) -> sqlite3.Row:
    row = db.one("SELECT * FROM evaluations WHERE id = ?", (eval_id,))
    if row is None:
        raise NotFound(
            f"Evaluation '{eval_id[:100]}' not found. List evaluations with GET /v1/evaluation.", param="id"
        )
    return row


def job_payload(db: Database, row: Any) -> EvaluationJob:
    """An evaluation row as ``EvaluationJob``."""
    updates = db.query(
        "SELECT status, message, created_at FROM evaluation_updates WHERE evaluation_id = ? ORDER BY seq",
        (row["id"],),
    )
    return EvaluationJob(
        workflow_id=row["id"],
        type=row["type"],
        status=row["status"],
        parameters=json.loads(row["parameters"]),
        created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]),
        status_updates=[
            StatusUpdate(status=u["status"], message=u["message"], timestamp=iso(u["created_at"]))
            for u in updates
        ],
        results=json.loads(row["results"]) if row["results"] else None,
    )
