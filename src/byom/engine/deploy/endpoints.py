"""The v2 endpoints API: create, list, get, update (trafficSplit, etag) and delete endpoints, and their event feed.

Paths, shapes and rules follow Together's v2 dedicated-endpoint model as SDK ``together`` 3.1.1
calls it (ref together-api-2026-11 §3.3-§3.13): camelCase JSON, ``{data, next_cursor}`` lists,
``etag`` + ``updateMask`` updates. The engine is one project (``EngineState.project``).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from byom.engine.db import iso, new_id, now
from byom.engine.deploy.bodies import (
    Autoscaling,
    DeploymentBody,
    DeploymentStatus,
    DeploymentSummary,
    EndpointBody,
    EndpointEventBody,
    RuntimeInfo,
    TrafficEntry,
)
from byom.engine.deploy.project import (
    PROJECT_ROUTE,
    already_exists,
    bare_name,
    check_etag,
    etag_update,
    filter_names,
    ordered,
    project_of,
    update_mask,
)
from byom.engine.deploy.runtime import (
    READY,
    add_event,
)
from byom.engine.devices import device_for_config, probe_devices
from byom.engine.http import answer, int_query, page, parse_body, wire
from byom.engine.state import engine_of
from byom.errors import InvalidRequest, NotFound

__all__ = [
    "autoscaling_of",
    "deployment_body",
    "deployments_of",
    "devices_probed",
    "endpoint_row",
    "routes",
    "traffic_shares",
]

_LEVELS = ("LEVEL_DEBUG", "LEVEL_INFO", "LEVEL_WARN", "LEVEL_ERROR")
_ENGINE_TYPE = "transformers"


# --- endpoints -------------------------------------------------------------------------------


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    name: str
    visibility: Literal["VISIBILITY_PRIVATE", "VISIBILITY_INTERNAL"] | None = None


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    etag: str | None = None
    name: str | None = None
    trafficSplit: list[TrafficEntry] | None = None
    visibility: Literal["VISIBILITY_PRIVATE", "VISIBILITY_INTERNAL"] | None = None


def endpoint_row(request: Request, ref: str) -> dict[str, Any]:
    project = project_of(request)
    db = engine_of(request).db
    row = db.one("SELECT * FROM endpoints WHERE project_id = ? AND id = ?", (project["id"], ref))
    if row is None:
        bare = ref.split("/")[-1]
        row = db.one("SELECT * FROM endpoints WHERE project_id = ? AND name = ?", (project["id"], bare))
    if row is None:
        raise NotFound(
            f"Endpoint {ref!r} not found. List endpoints with GET /v2/projects/{project['id']}/endpoints.",
        )
    return dict(row)


def traffic_shares(endpoint: dict[str, Any], deployments: list[dict[str, Any]]) -> dict[str, float]:
    """Each deployment's share of traffic: weight × readyReplicas over the total (ref §3.10)."""
    ready = {d["id"] for d in deployments if d["state"] == READY}
    split = json.loads(endpoint["traffic_split"] or "[]")
    capacity = {e["deploymentId"]: float(e["weight"]) for e in split if e["deploymentId"] in ready}
    total = sum(capacity.values())
    return {dep_id: (w / total if total > 0 else 0.0) for dep_id, w in capacity.items()}


def autoscaling_of(dep: dict[str, Any]) -> dict[str, Any]:
    """A deployment's stored autoscaling, without keys this engine does not declare (an older one stored what
    clients sent): an old row must still render, and an update must not carry the stray key forward."""
    stored = json.loads(dep["autoscaling"]) or {}
    known = {f.alias or name for name, f in Autoscaling.model_fields.items()} | set(Autoscaling.model_fields)
    return {k: v for k, v in stored.items() if k in known}


def _status(dep: dict[str, Any]) -> DeploymentStatus:
    ready = 1 if dep["state"] == READY else 0
    return DeploymentStatus(
        state=dep["state"], message=dep["message"] or "", ready_replicas=ready, scheduled_replicas=ready
    )


def deployment_body(
    dep: dict[str, Any], endpoint: dict[str, Any], project: dict[str, str], share: float
) -> DeploymentBody:
    device = device_for_config(dep["config_id"])
    scaling = Autoscaling.model_validate(autoscaling_of(dep))
    return DeploymentBody(
        id=dep["id"],
        name=f"{project['slug']}/{endpoint['name']}/{dep['name']}",
        endpoint_id=dep["endpoint_id"],
        project_id=dep["project_id"],
        model=f"projects/{dep['project_id']}/models/{dep['model_id']}/revisions/{dep['revision_id']}",
        model_id=dep["model_id"],
        model_revision_id=dep["revision_id"],
        config=f"projects/{dep['project_id']}/configs/{dep['config_id']}",
        config_id=dep["config_id"],
        hardware=device.hardware if device else "unavailable",
        autoscaling=scaling,
        status=_status(dep),
        desired_replicas=min(1, (scaling.min_replicas or 0) or (scaling.max_replicas or 0)),
        estimated_effective_traffic_share=share,
        inactive_timeout=dep["inactive_timeout"],
        etag=dep["etag"],
        created_at=iso(dep["created_at"]),
        updated_at=iso(dep["updated_at"]),
        runtime_info=RuntimeInfo(
            engine_type=_ENGINE_TYPE,
            engine_version=_engine_version(),
            function_calling_supported=False,
            structured_output_supported=False,
        ),
        max_concurrent_requests_per_replica=dep.get("max_concurrent"),
        placement=json.loads(dep["placement"]) if dep.get("placement") else None,
    )


def _engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return "unknown"


def deployments_of(db: Any, endpoint_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.query("SELECT * FROM deployments WHERE endpoint_id = ? ORDER BY rowid", (endpoint_id,))
    ]


def _endpoint_body(db: Any, endpoint: dict[str, Any], project: dict[str, str]) -> EndpointBody:
    deployments = deployments_of(db, endpoint["id"])
    shares = traffic_shares(endpoint, deployments)
    return EndpointBody(
        id=endpoint["id"],
        name=f"{project['slug']}/{endpoint['name']}",
        project_id=endpoint["project_id"],
        visibility=endpoint["visibility"],
        traffic_split=json.loads(endpoint["traffic_split"] or "[]"),
        deployments=[
            DeploymentSummary.of(deployment_body(d, endpoint, project, shares.get(d["id"], 0.0)))
            for d in deployments
        ],
        etag=endpoint["etag"],
        created_at=iso(endpoint["created_at"]),
        updated_at=iso(endpoint["updated_at"]),
    )


def _name_taken(db: Any, project_id: str, name: str, exclude: str | None = None) -> bool:
    row = db.one("SELECT id FROM endpoints WHERE project_id = ? AND name = ?", (project_id, name))
    return row is not None and row["id"] != exclude


async def devices_probed() -> None:
    """Wait, off the event loop, for the one device probe: a body names each deployment's hardware."""
    await anyio.to_thread.run_sync(probe_devices)


async def create_endpoint(request: Request) -> JSONResponse:
    await devices_probed()
    project = project_of(request)
    body = await parse_body(request, EndpointCreate)
    name = bare_name(body.name, project["slug"], "Endpoint")
    db = engine_of(request).db
    stamp = now()
    endpoint_id = new_id("ep")
    with db.transaction() as conn:
        if conn.execute(
            "SELECT 1 FROM endpoints WHERE project_id = ? AND name = ?", (project["id"], name)
        ).fetchone():
            raise already_exists(
                f"An endpoint named {project['slug']}/{name} already exists. Reuse it (GET "
                f'/v2/projects/{project["id"]}/endpoints?filter=name="{name}") or pick another name.',
            )
        conn.execute(
            "INSERT INTO endpoints (id, project_id, name, visibility, traffic_split, etag, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, '[]', ?, ?, ?)",
            (
                endpoint_id,
                project["id"],
                name,
                body.visibility or "VISIBILITY_PRIVATE",
                new_id("et"),
                stamp,
                stamp,
            ),
        )
    add_event(db, endpoint_id, "endpoint.created", f"Endpoint {project['slug']}/{name} created.")
    return answer(_endpoint_body(db, endpoint_row(request, endpoint_id), project))


async def list_endpoints(request: Request) -> JSONResponse:
    await devices_probed()
    project = project_of(request)
    db = engine_of(request).db
    rows = [
        dict(r)
        for r in db.query("SELECT * FROM endpoints WHERE project_id = ? ORDER BY rowid", (project["id"],))
    ]
    items = ordered(
        request, filter_names(request, [wire(_endpoint_body(db, r, project)) for r in rows], project["slug"])
    )
    return page(items, request)


async def get_endpoint(request: Request) -> JSONResponse:
    await devices_probed()
    project = project_of(request)
    return answer(
        _endpoint_body(engine_of(request).db, endpoint_row(request, request.path_params["ep"]), project)
    )


async def update_endpoint(request: Request) -> JSONResponse:
    await devices_probed()
    project = project_of(request)
    endpoint = endpoint_row(request, request.path_params["ep"])
    body = await parse_body(request, EndpointUpdate)
    mask = update_mask(request, {"name", "trafficSplit", "visibility"})
    sent = body.model_fields_set - {"etag"}
    fields = mask if mask is not None else sent
    db = engine_of(request).db
    check_etag(body.etag, endpoint["etag"], "endpoint")
    changes: dict[str, Any] = {}
    if "name" in fields:
        if not body.name:
            raise InvalidRequest("updateMask includes 'name' but the body has no name.", param="name")
        name = bare_name(body.name, project["slug"], "Endpoint")
        if _name_taken(db, project["id"], name, exclude=endpoint["id"]):
            raise already_exists(
                f"An endpoint named {project['slug']}/{name} already exists; pick another name.",
            )
        changes["name"] = name
    if "visibility" in fields and body.visibility:
        changes["visibility"] = body.visibility
    if "trafficSplit" in fields:
        entries = body.trafficSplit or []
        own = {d["id"] for d in deployments_of(db, endpoint["id"])}
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if not math.isfinite(entry.weight):
                raise InvalidRequest(
                    f"trafficSplit[{i}].weight must be a finite number ≥ 0.", param="trafficSplit"
                )
            if entry.deployment_id not in own:
                raise InvalidRequest(
                    f"trafficSplit[{i}].deploymentId {entry.deployment_id!r} is not a deployment of this endpoint. "
                    f"List them with GET /v2/projects/{project['id']}/endpoints/{endpoint['id']}/deployments.",
                    param="trafficSplit",
                )
            if entry.deployment_id in seen:
                raise InvalidRequest(
                    f"trafficSplit lists {entry.deployment_id} twice; give each deployment one entry.",
                    param="trafficSplit",
                )
            seen.add(entry.deployment_id)
        changes["traffic_split"] = json.dumps([wire(e) for e in entries])
    if changes:
        etag_update(db, "endpoints", endpoint["id"], changes, body.etag)
        if "traffic_split" in changes:
            add_event(
                db,
                endpoint["id"],
                "endpoint.traffic_split_updated",
                f"trafficSplit set to {changes['traffic_split']}.",
            )
    return answer(_endpoint_body(db, endpoint_row(request, endpoint["id"]), project))


async def delete_endpoint(request: Request) -> JSONResponse:
    project = project_of(request)
    endpoint = endpoint_row(request, request.path_params["ep"])
    check_etag(request.query_params.get("etag"), endpoint["etag"], "endpoint")
    db = engine_of(request).db
    with db.transaction() as conn:
        # In the transaction of the delete: a deployment created meanwhile is seen here, not by the foreign key.
        names = [
            r["name"]
            for r in conn.execute(
                "SELECT name FROM deployments WHERE endpoint_id = ? ORDER BY rowid", (endpoint["id"],)
            )
        ]
        if names:
            raise InvalidRequest(
                f"Endpoint {project['slug']}/{endpoint['name']} still has deployments ({', '.join(names)}). Delete the"
                f" deployments first (DELETE /v2/projects/{project['id']}/endpoints/{endpoint['id']}/deployments/<id>),"
                " then the endpoint.",
                code="failed_precondition",
            )
        conn.execute("DELETE FROM endpoint_events WHERE endpoint_id = ?", (endpoint["id"],))
        conn.execute("DELETE FROM endpoints WHERE id = ?", (endpoint["id"],))
    return JSONResponse({})


async def list_events(request: Request) -> JSONResponse:
    project_of(request)
    endpoint = endpoint_row(request, request.path_params["ep"])
    db = engine_of(request).db
    limit = int_query(request, "limit", 50, 1, 10_000)
    min_level = request.query_params.get("minLevel") or "LEVEL_DEBUG"
    if min_level not in _LEVELS:
        raise InvalidRequest(f"minLevel must be one of {', '.join(_LEVELS)}.", param="minLevel")
    allowed = set(_LEVELS[_LEVELS.index(min_level) :])
    dep_ids = {d for d in (request.query_params.get("deploymentIds") or "").split(",") if d}
    types = {t for t in (request.query_params.get("types") or "").split(",") if t}
    rows = db.query(
        "SELECT * FROM endpoint_events WHERE endpoint_id = ? ORDER BY seq DESC", (endpoint["id"],)
    )
    items = []
    for r in rows:
        if (
            r["level"] not in allowed
            or (dep_ids and r["deployment_id"] not in dep_ids)
            or (types and r["type"] not in types)
        ):
            continue
        items.append(wire(_event_body(r)))
    return page(items, request, default_limit=limit, max_limit=10_000)


def _event_body(row: Any) -> EndpointEventBody:
    return EndpointEventBody(
        id=row["id"],
        created_at=iso(row["created_at"]),
        endpoint_id=row["endpoint_id"],
        level=row["level"],
        source="byom-engine",
        source_kind="SOURCE_KIND_DEPLOYMENT" if row["deployment_id"] else "SOURCE_KIND_ENDPOINT",
        type=row["type"],
        message=row["message"],
        deployment_id=row["deployment_id"] or None,
        subject_id=row["deployment_id"] or None,
        reason=row["reason"] or None,
    )


routes: list[BaseRoute] = [
    Route(f"{PROJECT_ROUTE}/endpoints", list_endpoints, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/endpoints", create_endpoint, methods=["POST"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}", get_endpoint, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}", update_endpoint, methods=["PATCH"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}", delete_endpoint, methods=["DELETE"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}/events", list_events, methods=["GET"]),
]
