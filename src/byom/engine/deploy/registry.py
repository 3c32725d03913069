"""The engine's model registry: every finished job's weights become a versioned model.

A model (``ml_…``) has a project-unique name and one or more revisions (``rv_…``), each
pointing at a directory of weights (or, for a base model, the Hub id it was trained from).
Shapes follow Together's v2 registry (ref together-api-2026-11 §3.8, §3.12).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from byom.contained import read_bytes
from byom.engine.db import Database, new_id, now
from byom.engine.trainer import context_length
from byom.errors import HubError
from byom.hub import local_safetensors_params

__all__ = [
    "RegisteredModel",
    "delete_model",
    "find_model_by_name",
    "get_model",
    "get_revision",
    "latest_revision",
    "list_models",
    "list_revisions",
    "recorded_base",
    "register_job_outputs",
    "register_model",
    "safe_model_name",
]

Kind = Literal["model", "adapter"]


class RegisteredModel(BaseModel):
    """One registry model and the revision that a registration call produced (or the latest)."""

    id: str
    project_id: str
    name: str  # bare; the wire name is ``<project_slug>/<name>``
    qualified_name: str
    kind: Kind
    base_model_id: str | None
    revision_id: str
    path: str
    architecture: str | None = None
    context_length: int | None = None
    parameters: int | None = None


_NAME_OK = re.compile(r"[^A-Za-z0-9._-]+")


def safe_model_name(raw: str) -> str:
    """A registry name from a Hub id, output name or path: ``/`` becomes ``--``, other odd chars ``-``."""
    name = raw.strip().replace("\\", "/").strip("/")
    name = "--".join(_NAME_OK.sub("-", part) for part in name.split("/") if part)
    return name[:200] or "model"


def _safetensors_counts(directory: Path) -> tuple[int, dict[str, int]] | None:
    # The one safetensors header parser (byom.hub); a corrupt file leaves the counts unknown, not the job failed.
    try:
        return local_safetensors_params(directory)
    except HubError:
        return None


_MAX_ADAPTER_CONFIG_BYTES = 4 * 1024 * 1024


def recorded_base(adapter_dir: Path) -> str | None:
    """The base PEFT recorded in an adapter's adapter_config.json (read under byom.contained's rule), or None."""
    try:
        raw = read_bytes(adapter_dir, "adapter_config.json", _MAX_ADAPTER_CONFIG_BYTES)
        config = json.loads(raw) if raw is not None and len(raw) <= _MAX_ADAPTER_CONFIG_BYTES else None
    except (OSError, ValueError, HubError):
        return None
    value = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    return str(value) if value else None


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _inspect(path: Path) -> tuple[str | None, int | None, tuple[int, dict[str, int]] | None]:
    """Architecture, context length and parameter counts read from a weights directory."""
    if not path.is_dir():
        return None, None, None
    config = _read_json(path / "config.json")
    architectures = config.get("architectures")
    architecture = architectures[0] if isinstance(architectures, list) and architectures else None
    if architecture is None and (path / "adapter_config.json").exists():
        architecture = "LoraAdapter"
    return (
        str(architecture) if architecture else None,
        context_length(config),
        _safetensors_counts(path),
    )


def register_model(
    db: Database,
    *,
    project_id: str,
    project_slug: str,
    name: str,
    kind: Kind,
    path: Path | str,
    base_model: str | None = None,
    base_model_id: str | None = None,
    source_job_id: str | None = None,
    architecture: str | None = None,
    context_length: int | None = None,
    parameters: int | None = None,
    description: str | None = None,
) -> RegisteredModel:
    """Register weights under ``name``; a name already registered gets a new revision."""
    bare = safe_model_name(name.split("/", 1)[1] if name.startswith(f"{project_slug}/") else name)
    if base_model_id is None and base_model:
        # ``projects/{p}/models/{id}[/revisions/…]`` or a bare ``ml_…`` id.
        parts = base_model.split("/")
        base_model_id = parts[3] if len(parts) >= 4 and parts[0] == "projects" else base_model
    weights_dir = Path(path) if not isinstance(path, Path) else path
    found_arch, found_ctx, counts = _inspect(weights_dir)
    architecture = architecture or found_arch
    context_length = context_length or found_ctx
    by_dtype: dict[str, int] | None = None
    if counts is not None:
        parameters = parameters or counts[0]
        by_dtype = counts[1]
    stored_path = str(weights_dir.resolve()) if weights_dir.exists() else str(path)
    stamp = now()
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT id FROM registry_models WHERE project_id = ? AND name = ?", (project_id, bare)
        ).fetchone()
        if row is None:
            model_id = new_id("ml")
            conn.execute(
                "INSERT INTO registry_models (id, project_id, name, kind, base_model_id, description, architecture,"
                " context_length, parameters, parameters_by_dtype, source_job_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    model_id,
                    project_id,
                    bare,
                    kind,
                    base_model_id,
                    description,
                    architecture,
                    context_length,
                    parameters,
                    json.dumps(by_dtype) if by_dtype else None,
                    source_job_id,
                    stamp,
                    stamp,
                ),
            )
            seq = 1
        else:
            model_id = row["id"]
            conn.execute(
                "UPDATE registry_models SET kind = ?, base_model_id = COALESCE(?, base_model_id),"
                " description = COALESCE(?, description), architecture = COALESCE(?, architecture),"
                " context_length = COALESCE(?, context_length), parameters = COALESCE(?, parameters),"
                " parameters_by_dtype = COALESCE(?, parameters_by_dtype),"
                " source_job_id = COALESCE(?, source_job_id), updated_at = ? WHERE id = ?",
                (
                    kind,
                    base_model_id,
                    description,
                    architecture,
                    context_length,
                    parameters,
                    json.dumps(by_dtype) if by_dtype else None,
                    source_job_id,
                    stamp,
                    model_id,
                ),
            )
            last = conn.execute(
                "SELECT MAX(seq) AS seq FROM registry_revisions WHERE model_id = ?", (model_id,)
            ).fetchone()
            seq = int(last["seq"] or 0) + 1
        revision_id = new_id("rv")
        conn.execute(
            "INSERT INTO registry_revisions (id, model_id, seq, path, source_job_id, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (revision_id, model_id, seq, stored_path, source_job_id, stamp),
        )
    stored = db.one("SELECT * FROM registry_models WHERE id = ?", (model_id,))
    assert stored is not None
    return RegisteredModel(
        id=model_id,
        project_id=project_id,
        name=bare,
        qualified_name=f"{project_slug}/{bare}",
        kind=kind,
        base_model_id=stored["base_model_id"],
        revision_id=revision_id,
        path=stored_path,
        architecture=stored["architecture"],
        context_length=stored["context_length"],
        parameters=stored["parameters"],
    )


def _ensure_base(
    db: Database, *, project_id: str, project_slug: str, template: str, source: str
) -> str | None:
    """The registry id of the weights a job trained from (a Hub id or local dir), registered once."""
    # Keyed by what was really trained (``from_hf_model``), not the template: two BYOM jobs on one
    # template can start from different models (ref together-byom-docs: template + from_hf_model).
    source = source or template
    if not source:
        return None
    bare = safe_model_name(source)
    row = db.one("SELECT id FROM registry_models WHERE project_id = ? AND name = ?", (project_id, bare))
    if row is not None:
        return str(row["id"])
    note = f" (template {template})" if template and template != source else ""
    return register_model(
        db,
        project_id=project_id,
        project_slug=project_slug,
        name=bare,
        kind="model",
        path=source,
        description=f"Base model {source}{note}",
    ).id


def register_job_outputs(
    db: Database,
    *,
    project_id: str,
    project_slug: str,
    job_id: str,
    output_name: str,
    template: str,
    outputs: dict[str, Path | None],
    from_hf_model: str,
) -> dict[str, str | None]:
    """Register a finished job's adapter and full/merged model; return the job's registry fields."""
    fields: dict[str, str | None] = {
        "model_object_id": None,
        "model_object_name": None,
        "model_object_revision_id": None,
        "adapter_object_id": None,
        "adapter_object_name": None,
        "adapter_object_revision_id": None,
    }
    # The base the job trained from (a Hub id or local directory) is a model too, so that both the
    # merged model and the adapter can name it as ``baseModel`` (ref §3.8, §3.9).
    base_id = _ensure_base(
        db, project_id=project_id, project_slug=project_slug, template=template, source=from_hf_model
    )
    name = safe_model_name(output_name.split("/")[-1] if "/" in output_name else output_name)
    # The adapter loads on top of the base it was trained on, so both outputs name that base.
    registrations: tuple[tuple[str, str, Kind, Path | None, str], ...] = (
        ("model_object", name, "model", outputs.get("merged") or outputs.get("model"), "Fine-tuned by job"),
        ("adapter_object", f"{name}-adapter", "adapter", outputs.get("adapter"), "LoRA adapter from job"),
    )
    for prefix, reg_name, kind, path, what in registrations:
        if path is None:
            continue
        registered = register_model(
            db,
            project_id=project_id,
            project_slug=project_slug,
            name=reg_name,
            kind=kind,
            path=path,
            base_model_id=base_id,
            source_job_id=job_id,
            description=f"{what} {job_id} on {from_hf_model}",
        )
        fields[f"{prefix}_id"] = registered.id
        fields[f"{prefix}_name"] = registered.qualified_name
        fields[f"{prefix}_revision_id"] = registered.revision_id
    return fields


# --- reads (used by the deploy routes) -------------------------------------------------------


def get_model(db: Database, project_id: str, model_id: str) -> dict[str, Any] | None:
    """One registry row as a dict (``None`` if unknown in this project)."""
    row = db.one("SELECT * FROM registry_models WHERE project_id = ? AND id = ?", (project_id, model_id))
    return dict(row) if row is not None else None


def find_model_by_name(db: Database, project_id: str, name: str) -> dict[str, Any] | None:
    """A registry row by its bare or ``<slug>/<name>`` name."""
    bare = name.split("/", 1)[1] if "/" in name else name
    row = db.one("SELECT * FROM registry_models WHERE project_id = ? AND name = ?", (project_id, bare))
    return dict(row) if row is not None else None


def list_models(db: Database, project_id: str) -> list[dict[str, Any]]:
    """The project's models in creation order (the route pages them with ``http.page``)."""
    rows = db.query("SELECT * FROM registry_models WHERE project_id = ? ORDER BY rowid", (project_id,))
    return [dict(r) for r in rows]


def list_revisions(db: Database, model_id: str) -> list[dict[str, Any]]:
    """Revisions of a model, newest first."""
    rows = db.query("SELECT * FROM registry_revisions WHERE model_id = ? ORDER BY seq DESC", (model_id,))
    return [dict(r) for r in rows]


def get_revision(db: Database, model_id: str, revision_id: str) -> dict[str, Any] | None:
    row = db.one("SELECT * FROM registry_revisions WHERE model_id = ? AND id = ?", (model_id, revision_id))
    return dict(row) if row is not None else None


def latest_revision(db: Database, model_id: str) -> dict[str, Any] | None:
    row = db.one("SELECT * FROM registry_revisions WHERE model_id = ? ORDER BY seq DESC LIMIT 1", (model_id,))
    return dict(row) if row is not None else None


def delete_model(db: Database, project_id: str, model_id: str) -> None:
    """Forget a model and its revisions (the weights on disk stay: they belong to the job or the user)."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM registry_revisions WHERE model_id = ?", (model_id,))
        conn.execute("DELETE FROM registry_models WHERE project_id = ? AND id = ?", (project_id, model_id))
