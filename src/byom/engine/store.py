"""Tables for files and fine-tune jobs (migrations m001-m009) and the content-addressed blob store.

Blobs live at ``<data_dir>/blobs/<sha256>``; a file row points at its blob by digest, so
the same bytes uploaded twice are stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from byom.engine.db import MIGRATIONS

__all__ = ["BlobWriter", "blob_path", "sha256_file"]

_OWN = [
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
]

_OWN.append(
    (
        "m006_jobs_hf_token_given",
        # Whether the job was created with an hf_api_token (the token itself is never stored), so a
        # restart can say that it is gone.
        "ALTER TABLE jobs ADD COLUMN hf_token_given INTEGER NOT NULL DEFAULT 0",
    )
)

for _migration in _OWN:
    if _migration not in MIGRATIONS:
        MIGRATIONS.append(_migration)


def blob_path(data_dir: Path, sha256: str) -> Path:
    return data_dir / "blobs" / sha256


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BlobWriter:
    """Stream bytes into a temp file, hashing and counting; ``commit`` moves it to its digest's path."""

    def __init__(self, data_dir: Path, max_bytes: int) -> None:
        self.data_dir = data_dir
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=data_dir / "uploads", prefix="up-")
        self._fh = os.fdopen(fd, "wb")
        self._tmp = Path(name)

    def write(self, chunk: bytes) -> bool:
        """Append a chunk; False once the size cap is passed (the caller answers 413)."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            return False
        self._digest.update(chunk)
        self._fh.write(chunk)
        return True

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def commit(self) -> Path:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        target = blob_path(self.data_dir, self.sha256)
        if target.exists():
            self._tmp.unlink()
        else:
            os.replace(self._tmp, target)
        return target

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)
