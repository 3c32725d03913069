"""The deploy side's SQLite tables (model registry, endpoints, deployments, events): m010 onwards.

Importing this module appends the migrations to ``byom.engine.db.MIGRATIONS``; the engine
imports it (through ``byom.engine.registry``) before it opens the database.
"""

from __future__ import annotations

from byom.engine.db import MIGRATIONS, Database

__all__ = ["ensure_schema"]

_M010 = """
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
"""

_M011 = """
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
"""

for _migration in (("m010_model_registry", _M010), ("m011_endpoints_deployments", _M011)):
    if _migration not in MIGRATIONS:
        MIGRATIONS.append(_migration)


def ensure_schema(db: Database) -> None:
    """Apply the deploy side's migrations to a database opened before this module was imported."""
    db.migrate()
