"""Private local state: directories 0700, files 0600, and SQLite stores with numbered migrations.

Both the engine (jobs, files, weights) and the MCP server's ledger keep state in the user's data dir;
this module is the one way they create it. A store is one SQLite file (WAL) whose tables come from an
ordered list of ``(name, sql)`` migrations (llm-style): each applied name is recorded in
``_migrations``, so a file of any earlier version is brought up to date at open. A new table or column is
a new entry at the end of the list; never edit one that has shipped.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Migration", "SQLiteStore", "open_private", "private_dir", "private_secret", "run_script"]

_POSIX = os.name == "posix"

Migration = tuple[str, str]


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by this user only, whatever the umask."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _POSIX:
        path.chmod(0o700)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """``os.open`` a file created 0600 (an existing one loses any group/other bits); returns the fd."""
    fd = os.open(path, flags, 0o600)
    if _POSIX:
        os.fchmod(fd, os.fstat(fd).st_mode & 0o700)
    return fd


def private_secret(path: Path) -> str:
    """The secret stored in ``path`` (made 0600 if it was not), or a new ``secrets.token_urlsafe(32)`` written
    there 0600 on first use (its directory made 0700). Two first starts at once: one creates, the other reads.

    Raises:
        ConfigError: the file exists but holds nothing.
    """
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with os.fdopen(open_private(path, os.O_RDONLY), encoding="utf-8") as fh:
            stored = fh.read().strip()
        if not stored:
            from byom.errors import ConfigError

            raise ConfigError(
                f"{path} is empty. Delete it and start again: a new secret is generated."
            ) from None
        return stored
    secret = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    return secret


class SQLiteStore:
    """One connection shared by the process's threads; writes are serialised by a lock."""

    def __init__(self, path: Path, migrations: Sequence[Migration], *, busy_timeout_s: float = 30.0) -> None:
        private_dir(path.parent)
        self.path = path
        self._migrations = list(migrations)
        # SQLite creates the -wal and -shm files with the database file's mode: make that 0600 first.
        for own in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if own == path or own.exists():
                os.close(open_private(own, os.O_RDWR | os.O_CREAT))
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self.migrate()

    def migrate(self) -> list[str]:
        """Apply, in list order, every migration not yet recorded; return the names applied now."""
        # A migration may rebuild a table others reference. SQLite's way needs foreign keys off for the step
        # (the pragma is ignored inside a transaction), and a foreign_key_check before the commit.
        with self._lock:
            self._conn.execute("PRAGMA foreign_keys=OFF")
            try:
                with self.transaction() as conn:
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)"
                    )
                    done = {row["name"] for row in conn.execute("SELECT name FROM _migrations")}
                    applied = [name for name, _ in self._migrations if name not in done]
                    for name, sql in self._migrations:
                        if name in done:
                            continue
                        run_script(conn, sql)
                        conn.execute(
                            "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
                        )
                    broken = conn.execute("PRAGMA foreign_key_check").fetchall() if applied else []
                    if broken:
                        tables = sorted({row[0] for row in broken})
                        raise sqlite3.IntegrityError(
                            f"migrations {', '.join(applied)} left {len(broken)} dangling references in {', '.join(tables)}"
                        )
            finally:
                self._conn.execute("PRAGMA foreign_keys=ON")
        return applied

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write. Nested inside another on this thread, it is a savepoint of the outer one: a job's
        create and its first status change commit together, or not at all."""
        with self._lock:
            if self._conn.in_transaction:
                self._conn.execute("SAVEPOINT nested")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK TO nested")
                    self._conn.execute("RELEASE nested")
                    raise
                else:
                    self._conn.execute("RELEASE nested")
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back by itself (a full disk, an I/O error): keep the original error,
                # and never leave the connection inside a transaction that later writes would silently join.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

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


def run_script(conn: sqlite3.Connection, sql: str) -> None:
    """Run a migration's statements inside the open transaction (``executescript`` would COMMIT it)."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)
