"""The engine's SQLite store: its ordered list of numbered migrations, row ids and timestamps.

Every table of the engine is created here, in ``MIGRATIONS`` order (``byom.storage.SQLiteStore`` applies
them at open), so no table depends on which modules happened to be imported first. A new table or column
is a new entry at the end of the list; never edit one that has shipped.

    m001-m006  files, fine-tune jobs and their events, metrics and checkpoints
    m010-m011  the model registry, endpoints, deployments and endpoint events
    m012       every timestamp stored as epoch seconds (REAL); the API renders them (``iso``)
    m013       LoRA adapters attached to deployments
    m014       evaluation jobs (``/v1/evaluation``) and their status updates
"""

from __future__ import annotations

import secrets
import sqlite3
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from byom.errors import NotFound
from byom.storage import SQLiteStore

__all__ = ["MIGRATIONS", "Database", "iso", "new_id", "now"]

MIGRATIONS: list[tuple[str, str]] = [
    (
        "m001_files",
        """
        CREATE TABLE files (
            id TEXT PRIMARY KEY,
            filename TEXT NOT NULL,
            purpose TEXT NOT NULL,
            file_type TEXT NOT NULL,
            checksum TEXT,                 -- what the client announced (SHA-256 hex)
            sha256 TEXT,                   -- what we received, NULL until uploaded
            bytes INTEGER NOT NULL DEFAULT 0,
            created_at INTEGER NOT NULL,
            upload_token_hash TEXT,        -- one-time PUT token (hashed), NULL once used
            processing_status TEXT,        -- NULL until preprocess, then PENDING, COMPLETED, INVALID_FORMAT, FAILED
            validation_report TEXT         -- JSON
        );
        CREATE INDEX files_sha256 ON files (sha256)
        """,
    ),
    (
        "m002_jobs",
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            started_at REAL,
            queue_seq INTEGER NOT NULL,    -- FIFO order
            request TEXT NOT NULL,         -- JSON of the accepted request, secrets removed
            spec TEXT NOT NULL,            -- JSON TrainSpec
            model_output_name TEXT NOT NULL,
            training_file TEXT NOT NULL,
            validation_file TEXT,
            steps_completed INTEGER NOT NULL DEFAULT 0,
            total_steps INTEGER,
            epochs_completed REAL NOT NULL DEFAULT 0,
            token_count INTEGER,
            param_count INTEGER,
            seconds_remaining REAL,
            error_message TEXT,
            error_stage TEXT,
            error_type TEXT,
            progress_offset INTEGER NOT NULL DEFAULT 0,
            attempt INTEGER NOT NULL DEFAULT 0,
            pid INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            outputs TEXT,                  -- JSON {"adapter", "model", "merged"}
            registry TEXT                  -- JSON of the registry ids filled at completion
        );
        CREATE INDEX jobs_status ON jobs (status, queue_seq)
        """,
    ),
    (
        "m003_job_events",
        """
        CREATE TABLE job_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            created_at REAL NOT NULL,
            type TEXT NOT NULL,
            level TEXT,
            message TEXT NOT NULL,
            step INTEGER,
            extra TEXT                     -- JSON of optional FinetuneEvent fields
        );
        CREATE INDEX job_events_job ON job_events (job_id, seq)
        """,
    ),
    (
        "m004_job_metrics",
        """
        CREATE TABLE job_metrics (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            logged_at REAL NOT NULL,
            metrics TEXT NOT NULL          -- JSON {"train/loss": ..., ...}
        );
        CREATE INDEX job_metrics_job ON job_metrics (job_id, step)
        """,
    ),
    (
        "m005_job_checkpoints",
        """
        CREATE TABLE job_checkpoints (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            created_at REAL NOT NULL,
            path TEXT NOT NULL,
            checkpoint TEXT NOT NULL,      -- "adapter" | "model"
            final INTEGER NOT NULL DEFAULT 0,
            object_id TEXT,
            object_name TEXT,
            object_revision_id TEXT
        );
        CREATE INDEX job_checkpoints_job ON job_checkpoints (job_id, step)
        """,
    ),
    (
        "m006_jobs_hf_token_given",
        # Whether the job was created with an hf_api_token (the token itself is never stored), so a
        # restart can say that it is gone.
        "ALTER TABLE jobs ADD COLUMN hf_token_given INTEGER NOT NULL DEFAULT 0",
    ),
    (
        "m010_model_registry",
        """
CREATE TABLE IF NOT EXISTS registry_models (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    base_model_id TEXT,
    description TEXT,
    visibility TEXT NOT NULL DEFAULT 'VISIBILITY_PRIVATE',
    architecture TEXT,
    context_length INTEGER,
    parameters INTEGER,
    parameters_by_dtype TEXT,
    source_job_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE IF NOT EXISTS registry_revisions (
    id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL REFERENCES registry_models(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    path TEXT NOT NULL,
    source_job_id TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (model_id, seq)
)
""",
    ),
    (
        "m011_endpoints_deployments",
        """
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    visibility TEXT NOT NULL,
    traffic_split TEXT NOT NULL DEFAULT '[]',
    etag TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES endpoints(id),
    name TEXT NOT NULL,
    model_id TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    config_id TEXT NOT NULL,
    autoscaling TEXT NOT NULL,
    inactive_timeout INTEGER NOT NULL DEFAULT 0,
    max_concurrent TEXT,
    placement TEXT,
    state TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL,
    last_request_at REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (endpoint_id, name)
);
CREATE TABLE IF NOT EXISTS endpoint_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    endpoint_id TEXT NOT NULL,
    deployment_id TEXT,
    level TEXT NOT NULL,
    type TEXT NOT NULL,
    message TEXT,
    reason TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS endpoint_events_by_endpoint ON endpoint_events (endpoint_id, seq)
""",
    ),
    (
        # One way to store time: seconds since the epoch (REAL), as the job tables always did; the registry and
        # deploy tables stored ISO text. Tables are rebuilt the SQLite way (new table, copy, drop, rename) with
        # foreign keys off for the step (see Database.migrate).
        "m012_deploy_times_as_epoch_seconds",
        """
        CREATE TABLE new_registry_models (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            base_model_id TEXT,
            description TEXT,
            visibility TEXT NOT NULL DEFAULT 'VISIBILITY_PRIVATE',
            architecture TEXT,
            context_length INTEGER,
            parameters INTEGER,
            parameters_by_dtype TEXT,
            source_job_id TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (project_id, name)
        );
        INSERT INTO new_registry_models SELECT id, project_id, name, kind, base_model_id, description, visibility,
            architecture, context_length, parameters, parameters_by_dtype, source_job_id,
            round((julianday(created_at) - 2440587.5) * 86400.0, 3), round((julianday(updated_at) - 2440587.5) * 86400.0, 3)
            FROM registry_models;
        DROP TABLE registry_models;
        ALTER TABLE new_registry_models RENAME TO registry_models;
        CREATE TABLE new_registry_revisions (
            id TEXT PRIMARY KEY,
            model_id TEXT NOT NULL REFERENCES registry_models(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            path TEXT NOT NULL,
            source_job_id TEXT,
            created_at REAL NOT NULL,
            UNIQUE (model_id, seq)
        );
        INSERT INTO new_registry_revisions SELECT id, model_id, seq, path, source_job_id,
            round((julianday(created_at) - 2440587.5) * 86400.0, 3) FROM registry_revisions;
        DROP TABLE registry_revisions;
        ALTER TABLE new_registry_revisions RENAME TO registry_revisions;
        CREATE TABLE new_endpoints (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            name TEXT NOT NULL,
            visibility TEXT NOT NULL,
            traffic_split TEXT NOT NULL DEFAULT '[]',
            etag TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (project_id, name)
        );
        INSERT INTO new_endpoints SELECT id, project_id, name, visibility, traffic_split, etag,
            round((julianday(created_at) - 2440587.5) * 86400.0, 3), round((julianday(updated_at) - 2440587.5) * 86400.0, 3)
            FROM endpoints;
        DROP TABLE endpoints;
        ALTER TABLE new_endpoints RENAME TO endpoints;
        CREATE TABLE new_deployments (
            id TEXT PRIMARY KEY,
            project_id TEXT NOT NULL,
            endpoint_id TEXT NOT NULL REFERENCES endpoints(id),
            name TEXT NOT NULL,
            model_id TEXT NOT NULL,
            revision_id TEXT NOT NULL,
            config_id TEXT NOT NULL,
            autoscaling TEXT NOT NULL,
            inactive_timeout INTEGER NOT NULL DEFAULT 0,
            max_concurrent TEXT,
            placement TEXT,
            state TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            etag TEXT NOT NULL,
            last_request_at REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (endpoint_id, name)
        );
        INSERT INTO new_deployments SELECT id, project_id, endpoint_id, name, model_id, revision_id, config_id,
            autoscaling, inactive_timeout, max_concurrent, placement, state, message, etag, last_request_at,
            round((julianday(created_at) - 2440587.5) * 86400.0, 3), round((julianday(updated_at) - 2440587.5) * 86400.0, 3)
            FROM deployments;
        DROP TABLE deployments;
        ALTER TABLE new_deployments RENAME TO deployments;
        CREATE TABLE new_endpoint_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            endpoint_id TEXT NOT NULL,
            deployment_id TEXT,
            level TEXT NOT NULL,
            type TEXT NOT NULL,
            message TEXT,
            reason TEXT,
            created_at REAL NOT NULL
        );
        INSERT INTO new_endpoint_events SELECT seq, id, endpoint_id, deployment_id, level, type, message, reason,
            round((julianday(created_at) - 2440587.5) * 86400.0, 3) FROM endpoint_events;
        DROP TABLE endpoint_events;
        ALTER TABLE new_endpoint_events RENAME TO endpoint_events;
        CREATE INDEX endpoint_events_by_endpoint ON endpoint_events (endpoint_id, seq)
        """,
    ),
    (
        # LoRA adapters attached to a running base deployment (``dad_…``, ref §3.9); a deleted deployment takes
        # its attachments with it.
        "m013_deployment_adapters",
        """
        CREATE TABLE deployment_adapters (
            id TEXT PRIMARY KEY,
            deployment_id TEXT NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
            adapter_model_id TEXT NOT NULL,
            revision_id TEXT NOT NULL,           -- desired
            realized_revision_id TEXT,           -- loaded, once READY
            state TEXT NOT NULL,                 -- ADAPTER_LOAD_STATE_*
            message TEXT NOT NULL DEFAULT '',
            reason TEXT,
            etag TEXT NOT NULL,
            loaded_at REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            UNIQUE (deployment_id, adapter_model_id)
        );
        CREATE INDEX deployment_adapters_by_model ON deployment_adapters (adapter_model_id)
        """,
    ),
    (
        # Evaluation jobs (``engine/evals``): the accepted parameters, the input file, the results once done.
        "m014_evaluations",
        """
        CREATE TABLE evaluations (
            id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            status TEXT NOT NULL,          -- pending, running, completed, error, user_error
            parameters TEXT NOT NULL,      -- JSON of the accepted parameters
            input_file TEXT NOT NULL,
            queue_seq INTEGER NOT NULL,    -- FIFO order
            samples_done INTEGER NOT NULL DEFAULT 0,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            results TEXT,                  -- JSON: the type's counts, or {"error": ...}
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX evaluations_status ON evaluations (status, queue_seq);
        CREATE TABLE evaluation_updates (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            evaluation_id TEXT NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            message TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE INDEX evaluation_updates_by_evaluation ON evaluation_updates (evaluation_id, seq)
        """,
    ),
]


def now() -> float:
    """The time a row records (seconds since the epoch)."""
    return time.time()


@overload
def iso(ts: float) -> str: ...
@overload
def iso(ts: None) -> None: ...
def iso(ts: float | None) -> str | None:
    """A stored timestamp (``now()``) as the API shows it: ISO 8601 UTC with a ``Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    """A fresh row id in Together's style for its kind: ``file-<uuid>``/``ft-<uuid>``/``eval-<uuid>`` (v1),
    ``ml_<hex>`` (v2)."""
    if prefix in ("file", "ft", "eval"):
        return f"{prefix}-{uuid.uuid4()}"
    return f"{prefix}_{secrets.token_hex(10)}"


class Database(SQLiteStore):
    """The engine's store: ``MIGRATIONS`` applied at open."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, MIGRATIONS)

    def one_or_fail(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row:
        """The one row a request just wrote or read; gone meanwhile means a concurrent delete won (404)."""
        row = self.one(sql, params)
        if row is None:
            raise NotFound("It was deleted by another request meanwhile. List it again.")
        return row
