"""The v2 adapters API: LoRA adapters attached to a running deployment of their base ("attach" mode).

``POST/GET …/endpoints/{ep}/deployments/{dep}/adapters``, ``GET/PATCH/DELETE …/adapters/{dad}`` as SDK ``together``
3.1.1 calls them (ref together-api-2026-11 §3.3, §3.9, §3.13). Rules:

- the model attached must be an adapter (``WEIGHTS_TYPE_ADAPTER``) trained on the deployment's own model: its
  registry ``baseModelId`` is the deployment's model, or the base directory it records is the deployment's weights;
- the deployment's config has ``adapter_mode`` dynamic (``cr_local_<dev>_dynamic``); a disabled one refuses;
- at most ``MAX_ADAPTERS`` per deployment; ``force`` evicts the oldest instead of answering 409;
- update and delete need the row's ``etag``.

The runtime loads an attachment once its deployment is READY (``runtime.py``). Inference reaches it by the
adapter model's registry name, ``<slug>/<name>`` (``inference.py``): the API documents no such name (ref §7 #2).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from byom.engine.db import iso, new_id, now
from byom.engine.deploy import registry
from byom.engine.deploy.bodies import AdapterClusterStateBody, DeploymentAdapterBody
from byom.engine.deploy.deployments import deployment_row
from byom.engine.deploy.endpoints import endpoint_row
from byom.engine.deploy.project import (
    NO_RETRY,
    PROJECT_ROUTE,
    already_exists,
    check_etag,
    find_model,
    project_of,
    require_parent,
    revision_of,
)
from byom.engine.deploy.runtime import ADAPTER_PENDING, ADAPTER_READY, READY, add_event
from byom.engine.devices import DYNAMIC_SUFFIX, adapter_mode
from byom.engine.http import answer, page, parse_body, wire
from byom.engine.state import engine_of
from byom.errors import Conflict, InvalidRequest, NotFound

__all__ = ["MAX_ADAPTERS", "routes"]

MAX_ADAPTERS = 8  # per deployment: each one holds its LoRA weights on the device next to the base


class AdapterCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    adapterModelId: str = Field(min_length=1)
    adapterRevisionId: str | None = None
    force: bool = False


class AdapterUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    adapterRevisionId: str = Field(min_length=1)
    etag: str | None = None


# --- lookups and checks ----------------------------------------------------------------------------


def _target(request: Request) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    project = project_of(request)
    endpoint = endpoint_row(request, request.path_params["ep"])
    return project, endpoint, deployment_row(request, endpoint)


def _row(request: Request, dep: dict[str, Any]) -> dict[str, Any]:
    ref = request.path_params["dad"]
    row = engine_of(request).db.one(
        "SELECT * FROM deployment_adapters WHERE deployment_id = ? AND id = ?", (dep["id"], ref)
    )
    if row is None:
        raise NotFound(
            f"Adapter attachment {ref!r} not found on deployment {dep['id']}. List them with GET "
            f"/v2/projects/{dep['project_id']}/endpoints/{dep['endpoint_id']}/deployments/{dep['id']}/adapters.",
        )
    return dict(row)


def _same_dir(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return Path(a).is_dir() and Path(b).is_dir() and Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _check_adapter(
    request: Request, model: dict[str, Any], revision: dict[str, Any], dep: dict[str, Any]
) -> None:
    """400 unless ``model``/``revision`` is an adapter trained on exactly the weights ``dep`` serves."""
    project = project_of(request)
    db = engine_of(request).db
    name = f"{project['slug']}/{model['name']}"
    if model["kind"] != "adapter":
        raise InvalidRequest(
            f"Model {name} ({model['id']}) is not a LoRA adapter (weights.type WEIGHTS_TYPE_DEFAULT), so it cannot "
            "be attached. Deploy it as the model of its own deployment instead.",
            param="adapterModelId",
        )
    path = Path(str(revision["path"]))
    if not (path / "adapter_config.json").is_file():
        raise InvalidRequest(
            f"Revision {revision['id']} of adapter {name} has no adapter_config.json at {path}: it is not a PEFT "
            "adapter directory here. Register the adapter's directory again.",
            param="adapterRevisionId",
        )
    recorded = registry.recorded_base(path)
    base_id = model.get("base_model_id")
    base = registry.get_model(db, project["id"], str(base_id)) if base_id else None
    base_rev = registry.latest_revision(db, str(base_id)) if base_id else None
    dep_rev = registry.get_revision(db, dep["model_id"], dep["revision_id"])
    dep_path = str(dep_rev["path"]) if dep_rev is not None else None
    if base_id == dep["model_id"] or any(
        _same_dir(candidate, dep_path) for candidate in (recorded, base_rev["path"] if base_rev else None)
    ):
        return
    if base is not None:
        needed = f"{project['slug']}/{base['name']} ({base['id']})"
    elif recorded:
        needed = f"the weights it records ({recorded})"
    else:
        needed = "its base, which neither the registry nor its adapter_config.json names"
    served = registry.get_model(db, project["id"], dep["model_id"])
    serving = f"{project['slug']}/{served['name']}" if served else dep["model_id"]
    raise InvalidRequest(
        f"Adapter {name} was trained on {needed}, but deployment {dep['name']} serves {serving}. An adapter "
        "trained from a custom model belongs to those weights: never attach to a different base. Attach it to a "
        f"deployment of {needed} whose config has adapter_mode dynamic.",
        param="adapterModelId",
    )


def _check_mode(dep: dict[str, Any]) -> None:
    if adapter_mode(dep["config_id"]) == "disabled":
        raise InvalidRequest(
            f"Deployment {dep['name']} runs config {dep['config_id']}, whose adapter_mode is disabled: adapters attach "
            "only to a deployment whose config has adapter_mode dynamic or fixed. Create a deployment of the base "
            f"with config projects/{dep['project_id']}/configs/{dep['config_id']}{DYNAMIC_SUFFIX} and attach there.",
            code="failed_precondition",
            param="deploymentId",
        )


# --- the wire body -----------------------------------------------------------------------------------


def _body(row: dict[str, Any]) -> DeploymentAdapterBody:
    pid = row["project_id"]
    model_ref = f"projects/{pid}/models/{row['adapter_model_id']}"
    state = row["state"]
    realized = row["realized_revision_id"] if state == ADAPTER_READY else None
    return DeploymentAdapterBody(
        id=row["id"],
        adapter_model_id=row["adapter_model_id"],
        desired_revision_id=row["revision_id"],
        etag=row["etag"],
        adapter_model=model_ref,
        desired_revision=f"{model_ref}/revisions/{row['revision_id']}",
        per_cluster=[
            AdapterClusterStateBody(
                adapter_model_id=row["adapter_model_id"],
                cluster_id="local",
                state=state,
                ready_pod_count=1 if state == ADAPTER_READY else 0,
                failed_pod_count=1 if state == "ADAPTER_LOAD_STATE_FAILED" else 0,
                total_pod_count=1,
                adapter_model=model_ref,
                message=row["message"] or None,
                reason=row["reason"] or None,
                loaded_at=iso(row["loaded_at"]) if row["loaded_at"] is not None else None,
                realized_revision_id=realized,
                realized_revision=f"{model_ref}/revisions/{realized}" if realized else None,
                updated_at=iso(row["updated_at"]),
            )
        ],
    )


def _rows(db: Any, where: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT a.*, d.project_id FROM deployment_adapters a JOIN deployments d ON d.id = a.deployment_id"
        f" WHERE {where} ORDER BY a.created_at, a.rowid",
        args,
    )
    return [dict(r) for r in rows]


def _one(db: Any, dad_id: str) -> DeploymentAdapterBody:
    rows = _rows(db, "a.id = ?", (dad_id,))
    if not rows:
        raise NotFound("The adapter attachment was deleted by another request meanwhile. List them again.")
    return _body(rows[0])


# --- routes ------------------------------------------------------------------------------------------


def _check_current(conn: sqlite3.Connection, row_id: str, etag: str) -> None:
    """Under the runtime lock: the attachment still exists and ``etag`` is its current one (else 404 / 409)."""
    current = conn.execute("SELECT etag FROM deployment_adapters WHERE id = ?", (row_id,)).fetchone()
    if current is None:
        raise NotFound("The adapter attachment was deleted by another request meanwhile. List them again.")
    check_etag(etag, current["etag"], "adapter attachment")


async def create_adapter(request: Request) -> JSONResponse:
    project, endpoint, dep = _target(request)
    body = await parse_body(request, AdapterCreate)
    state = engine_of(request)
    db, runtime = state.db, state.deploy
    model = find_model(request, body.adapterModelId)
    revision = revision_of(request, model, body.adapterRevisionId, param="adapterRevisionId")
    _check_adapter(request, model, revision, dep)
    _check_mode(dep)
    dad_id = new_id("dad")
    evicted: list[str] = []
    stamp = now()
    waiting = dep["state"] != READY
    with runtime.locked(), db.transaction() as conn:
        require_parent(
            conn,
            "deployments",
            dep["id"],
            f"Deployment {dep['name']} was deleted while this adapter was being attached; nothing was attached. "
            "Create the deployment again, then attach the adapter.",
        )
        taken = conn.execute(
            "SELECT id FROM deployment_adapters WHERE deployment_id = ? AND adapter_model_id = ?",
            (dep["id"], model["id"]),
        ).fetchone()
        if taken is not None:
            raise already_exists(
                f"Adapter {model['id']} is already attached to deployment {dep['name']} as {taken['id']}. "
                "PATCH that attachment to change its revision.",
                param="adapterModelId",
            )
        attached = conn.execute(
            "SELECT id FROM deployment_adapters WHERE deployment_id = ? ORDER BY created_at, rowid",
            (dep["id"],),
        ).fetchall()
        if len(attached) >= MAX_ADAPTERS:
            if not body.force:
                raise Conflict(
                    f"Deployment {dep['name']} already has {len(attached)} adapters, the most this engine attaches "
                    "to one deployment. Detach one, or send force=true to evict the oldest.",
                    code="resource_exhausted",
                    param="force",
                    headers=NO_RETRY,
                )
            evicted = [str(r["id"]) for r in attached[: len(attached) - MAX_ADAPTERS + 1]]
            conn.executemany("DELETE FROM deployment_adapters WHERE id = ?", [(e,) for e in evicted])
        conn.execute(
            "INSERT INTO deployment_adapters (id, deployment_id, adapter_model_id, revision_id, state, message,"
            " etag, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                dad_id,
                dep["id"],
                model["id"],
                revision["id"],
                ADAPTER_PENDING,
                "Waiting for the deployment to be READY; the adapter loads then."
                if waiting
                else "Queued for loading.",
                new_id("et"),
                stamp,
                stamp,
            ),
        )
    for old in evicted:
        await anyio.to_thread.run_sync(runtime.detach, old)
    note = f" (evicted {', '.join(evicted)})" if evicted else ""
    add_event(
        db,
        endpoint["id"],
        "adapter.attached",
        f"Adapter {project['slug']}/{model['name']} revision {revision['id']} attached as {dad_id}{note}.",
        deployment_id=dep["id"],
    )
    runtime.attach(dad_id)
    return answer(_one(db, dad_id))


async def list_adapters(request: Request) -> JSONResponse:
    _, _, dep = _target(request)
    rows = _rows(engine_of(request).db, "a.deployment_id = ?", (dep["id"],))
    return page([wire(_body(r)) for r in rows], request)


async def get_adapter(request: Request) -> JSONResponse:
    _, _, dep = _target(request)
    return answer(_one(engine_of(request).db, _row(request, dep)["id"]))


def _require_etag(given: str | None, row: dict[str, Any]) -> str:
    if not given:
        raise InvalidRequest(
            f"etag is required to change adapter attachment {row['id']}: send the etag of your last read of it "
            f"(currently {row['etag']!r}).",
            param="etag",
        )
    check_etag(given, row["etag"], "adapter attachment")
    return given


async def update_adapter(request: Request) -> JSONResponse:
    _, endpoint, dep = _target(request)
    row = _row(request, dep)
    body = await parse_body(request, AdapterUpdate)
    etag = _require_etag(body.etag, row)
    state = engine_of(request)
    db, runtime = state.db, state.deploy
    model = find_model(request, row["adapter_model_id"])
    revision = revision_of(request, model, body.adapterRevisionId, param="adapterRevisionId")
    _check_adapter(request, model, revision, dep)
    if revision["id"] == row["revision_id"]:
        return answer(_one(db, row["id"]))
    with runtime.locked(), db.transaction() as conn:
        _check_current(conn, row["id"], etag)
        conn.execute(
            "UPDATE deployment_adapters SET revision_id = ?, state = ?, message = ?, reason = NULL, etag = ?,"
            " updated_at = ? WHERE id = ?",
            (
                revision["id"],
                ADAPTER_PENDING,
                "Re-pinned; queued for loading.",
                new_id("et"),
                now(),
                row["id"],
            ),
        )
    await anyio.to_thread.run_sync(runtime.detach, row["id"])
    add_event(
        db,
        endpoint["id"],
        "adapter.updated",
        f"Adapter attachment {row['id']} re-pinned to revision {revision['id']}.",
        deployment_id=dep["id"],
    )
    runtime.attach(row["id"])
    return answer(_one(db, row["id"]))


async def delete_adapter(request: Request) -> JSONResponse:
    _, endpoint, dep = _target(request)
    row = _row(request, dep)
    etag = _require_etag(request.query_params.get("etag"), row)
    state = engine_of(request)
    db, runtime = state.db, state.deploy
    with runtime.locked(), db.transaction() as conn:
        _check_current(conn, row["id"], etag)
        conn.execute("DELETE FROM deployment_adapters WHERE id = ?", (row["id"],))
    await anyio.to_thread.run_sync(runtime.detach, row["id"])
    add_event(
        db,
        endpoint["id"],
        "adapter.detached",
        f"Adapter attachment {row['id']} detached and unloaded.",
        deployment_id=dep["id"],
    )
    return JSONResponse({})


_ADAPTERS = f"{PROJECT_ROUTE}/endpoints/{{ep}}/deployments/{{dep}}/adapters"

routes: list[BaseRoute] = [
    Route(_ADAPTERS, list_adapters, methods=["GET"]),
    Route(_ADAPTERS, create_adapter, methods=["POST"]),
    Route(f"{_ADAPTERS}/{{dad}}", get_adapter, methods=["GET"]),
    Route(f"{_ADAPTERS}/{{dad}}", update_adapter, methods=["PATCH"]),
    Route(f"{_ADAPTERS}/{{dad}}", delete_adapter, methods=["DELETE"]),
]
