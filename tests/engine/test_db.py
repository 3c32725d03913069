"""The engine's one migrations list: order, and an older database brought up to date without losing rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from byom.engine.db import MIGRATIONS, Database, iso
from byom.storage import run_script


def test_migrations_are_one_ordered_list_of_unique_names() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert len(names) == len(set(names))
    assert names == sorted(names), "append new migrations at the end, numbered after the last one"


def _database_at(path: Path, last: str) -> sqlite3.Connection:
    """A database as an older engine left it: migrations up to ``last`` applied."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for name, sql in MIGRATIONS:
        run_script(conn, sql)  # the same statement splitter the engine uses
        conn.execute("INSERT INTO _migrations VALUES (?, 0)", (name,))
        if name == last:
            break
    return conn


def test_iso_text_times_of_an_older_database_become_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "engine.db"
    old = _database_at(path, "m011_endpoints_deployments")
    stamp = "2026-11-28T10:00:00.500000Z"
    old.execute(
        "INSERT INTO registry_models (id, project_id, name, kind, created_at, updated_at)"
        " VALUES ('ml_1', 'proj_local', 'm', 'model', ?, ?)",
        (stamp, stamp),
    )
    old.execute(
        "INSERT INTO registry_revisions (id, model_id, seq, path, created_at) VALUES ('rv_1', 'ml_1', 1, '/x', ?)",
        (stamp,),
    )
    old.execute(
        "INSERT INTO endpoints (id, project_id, name, visibility, etag, created_at, updated_at)"
        " VALUES ('ep_1', 'proj_local', 'e', 'VISIBILITY_PRIVATE', 'et', ?, ?)",
        (stamp, stamp),
    )
    old.execute(
        "INSERT INTO deployments (id, project_id, endpoint_id, name, model_id, revision_id, config_id, autoscaling,"
        " state, etag, created_at, updated_at) VALUES ('dp_1', 'proj_local', 'ep_1', 'd', 'ml_1', 'rv_1',"
        " 'cr_local_cpu', '{}', 'DEPLOYMENT_STATE_STOPPED', 'et', ?, ?)",
        (stamp, stamp),
    )
    old.execute(
        "INSERT INTO endpoint_events (id, endpoint_id, level, type, created_at) VALUES ('ev_1', 'ep_1', 'L', 't', ?)",
        (stamp,),
    )
    old.close()

    database = Database(path)
    try:
        for table in ("registry_models", "registry_revisions", "endpoints", "deployments", "endpoint_events"):
            row = database.one(f"SELECT created_at, typeof(created_at) AS kind FROM {table}")
            assert row is not None and row["kind"] == "real", table
            assert iso(row["created_at"]) == "2026-11-28T10:00:00.500000Z", table
        # References survived the rebuild, and cascades still work.
        assert database.one("SELECT model_id FROM registry_revisions")["model_id"] == "ml_1"
        database.execute("DELETE FROM registry_models WHERE id = 'ml_1'")
        assert database.one("SELECT COUNT(*) AS n FROM registry_revisions")["n"] == 0
        assert database.one("PRAGMA foreign_keys")[0] == 1
    finally:
        database.close()


def test_a_nested_transaction_is_a_savepoint_of_the_outer_one(tmp_path: Path) -> None:
    database = Database(tmp_path / "engine.db")
    try:
        with database.transaction() as conn:
            conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('outer', 0)")
            try:
                with database.transaction() as inner:
                    inner.execute("INSERT INTO _migrations (name, applied_at) VALUES ('inner', 0)")
                    raise RuntimeError("undo the inner part only")
            except RuntimeError:
                pass
            with database.transaction() as inner:
                inner.execute("INSERT INTO _migrations (name, applied_at) VALUES ('kept', 0)")
        names = {row["name"] for row in database.query("SELECT name FROM _migrations")}
        assert {"outer", "kept"} <= names and "inner" not in names
    finally:
        database.close()
