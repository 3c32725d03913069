"""The engine's SQLite store (WAL), with numbered migrations.

Each migration is a ``(name, sql)`` pair in ``MIGRATIONS``; names sort in the order they
apply (``m001_...``, ``m002_...``) and each applied name is recorded in ``_migrations``.
Modules that own tables append their migrations here: files/jobs use m001-m009,
the deploy/registry side m010 onwards.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["MIGRATIONS", "Database"]

MIGRATIONS: list[tuple[str, str]] = []


class Database:
    """One connection shared by the app's threads; writes are serialised by a lock."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    def migrate(self) -> list[str]:
        """Apply every migration not yet recorded; return the names applied now."""
        applied: list[str] = []
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
            done = {row["name"] for row in conn.execute("SELECT name FROM _migrations")}
            for name, sql in sorted(MIGRATIONS):
                if name in done:
                    continue
                _run_script(conn, sql)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, strftime('%s','now'))", (name,)
                )
                applied.append(name)
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._conn.execute(sql, params)

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _run_script(conn: sqlite3.Connection, sql: str) -> None:
    # executescript() would COMMIT our open transaction; run statement by statement instead.
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)
