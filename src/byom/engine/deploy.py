"""The v2 deploy API: endpoints, deployments and endpoint events, plus the deploy runtime's lifespan hooks.

Paths, shapes and rules follow Together's v2 dedicated-endpoint model as SDK ``together`` 3.1.1
calls it (ref together-api-2026-11 §3.3-§3.13): camelCase JSON, ``{data, next_cursor}`` lists,
``etag`` + ``updateMask`` updates. The engine is one project (``EngineState.project``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from byom.engine._http import APIError, parse_body
from byom.engine._v2 import (
    _NO_RETRY,
    _P,
    _bare_name,
    _check_etag,
    _etag_update,
    _filter_names,
    _find_model,
    _int_query,
    _mask,
    _order,
    _page,
    _parse_model_ref,
    _project,
    _revision,
    _runtime,
    _serving_parameters,
    _state,
)
from byom.engine.deploy_runtime import (
    FAILED,
    READY,
    STOPPED,
    add_event,
    new_id,
    now_iso,
    runtime_for,
    shutdown_runtime,
)
from byom.engine.devices import device_for_config, fits, probe_devices

__all__ = ["routes", "shutdown", "startup"]

_LEVELS = ("LEVEL_DEBUG", "LEVEL_INFO", "LEVEL_WARN", "LEVEL_ERROR")
_ENGINE_TYPE = "transformers"


def startup(state: Any) -> None:
    """Create the deploy runtime now (re-provisions deployments that were running): call from the lifespan."""
    runtime_for(state)


def shutdown(state: Any) -> None:
    """Free every loaded model: call from the lifespan."""
    shutdown_runtime(state)


# --- endpoints -------------------------------------------------------------------------------


class TrafficEntry(BaseModel):
    deploymentId: str
    weight: float = Field(ge=0)


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    visibility: Literal["VISIBILITY_PRIVATE", "VISIBILITY_INTERNAL"] | None = None


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    etag: str | None = None
    name: str | None = None
    trafficSplit: list[TrafficEntry] | None = None
    visibility: Literal["VISIBILITY_PRIVATE", "VISIBILITY_INTERNAL"] | None = None


def _endpoint_row(request: Request, ref: str) -> dict[str, Any]:
    project = _project(request)
    db = _state(request).db
    row = db.one("SELECT * FROM endpoints WHERE project_id = ? AND id = ?", (project["id"], ref))
    if row is None:
        bare = ref.split("/")[-1]
        row = db.one("SELECT * FROM endpoints WHERE project_id = ? AND name = ?", (project["id"], bare))
    if row is None:
        raise APIError(
            404,
            f"Endpoint {ref!r} not found. List endpoints with GET /v2/projects/{project['id']}/endpoints.",
        )
    return dict(row)


def _shares(endpoint: dict[str, Any], deployments: list[dict[str, Any]]) -> dict[str, float]:
    """Each deployment's share of traffic: weight × readyReplicas over the total (ref §3.10)."""
    ready = {d["id"] for d in deployments if d["state"] == READY}
    split = json.loads(endpoint["traffic_split"] or "[]")
    capacity = {e["deploymentId"]: float(e["weight"]) for e in split if e["deploymentId"] in ready}
    total = sum(capacity.values())
    return {dep_id: (w / total if total > 0 else 0.0) for dep_id, w in capacity.items()}


def _autoscaling(dep: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(dep["autoscaling"]))


def _status(dep: dict[str, Any]) -> dict[str, Any]:
    ready = 1 if dep["state"] == READY else 0
    return {
        "state": dep["state"],
        "message": dep["message"] or "",
        "readyReplicas": ready,
        "scheduledReplicas": ready,
    }


def _deployment_json(
    dep: dict[str, Any], endpoint: dict[str, Any], project: dict[str, str], share: float
) -> dict[str, Any]:
    device = device_for_config(dep["config_id"])
    scaling = _autoscaling(dep)
    body: dict[str, Any] = {
        "id": dep["id"],
        "name": f"{project['slug']}/{endpoint['name']}/{dep['name']}",
        "endpointId": dep["endpoint_id"],
        "projectId": dep["project_id"],
        "model": f"projects/{dep['project_id']}/models/{dep['model_id']}/revisions/{dep['revision_id']}",
        "modelId": dep["model_id"],
        "modelRevisionId": dep["revision_id"],
        "config": f"projects/{dep['project_id']}/configs/{dep['config_id']}",
        "configId": dep["config_id"],
        "hardware": device.hardware if device else "unavailable",
        "autoscaling": scaling,
        "status": _status(dep),
        "desiredReplicas": min(
            1, int(scaling.get("minReplicas") or 0) or int(scaling.get("maxReplicas") or 0)
        ),
        "estimatedEffectiveTrafficShare": share,
        "trafficMode": "TRAFFIC_MODE_LIVE",
        "inactiveTimeout": dep["inactive_timeout"],
        "etag": dep["etag"],
        "createdAt": dep["created_at"],
        "updatedAt": dep["updated_at"],
        "runtimeInfo": {
            "engineType": _ENGINE_TYPE,
            "engineVersion": _engine_version(),
            "functionCallingSupported": False,
            "structuredOutputSupported": False,
        },
    }
    if dep.get("max_concurrent") is not None:
        body["maxConcurrentRequestsPerReplica"] = dep["max_concurrent"]
    if dep.get("placement"):
        body["placement"] = json.loads(dep["placement"])
    return body


def _engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return "unknown"


def _summary_json(
    dep: dict[str, Any], endpoint: dict[str, Any], project: dict[str, str], share: float
) -> dict[str, Any]:
    full = _deployment_json(dep, endpoint, project, share)
    keys = (
        "id",
        "autoscaling",
        "createdAt",
        "estimatedEffectiveTrafficShare",
        "model",
        "modelId",
        "name",
        "trafficMode",
        "desiredReplicas",
        "hardware",
    )
    summary = {k: full[k] for k in keys}
    summary["state"] = dep["state"]
    summary["readyReplicas"] = full["status"]["readyReplicas"]
    return summary


def _deployments_of(db: Any, endpoint_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.query("SELECT * FROM deployments WHERE endpoint_id = ? ORDER BY rowid", (endpoint_id,))
    ]


def _endpoint_json(db: Any, endpoint: dict[str, Any], project: dict[str, str]) -> dict[str, Any]:
    deployments = _deployments_of(db, endpoint["id"])
    shares = _shares(endpoint, deployments)
    return {
        "id": endpoint["id"],
        "name": f"{project['slug']}/{endpoint['name']}",
        "projectId": endpoint["project_id"],
        "endpointType": "ENDPOINT_TYPE_DEDICATED",
        "visibility": endpoint["visibility"],
        "trafficSplit": json.loads(endpoint["traffic_split"] or "[]"),
        "deployments": [_summary_json(d, endpoint, project, shares.get(d["id"], 0.0)) for d in deployments],
        "etag": endpoint["etag"],
        "createdAt": endpoint["created_at"],
        "updatedAt": endpoint["updated_at"],
    }


def _name_taken(db: Any, project_id: str, name: str, exclude: str | None = None) -> bool:
    row = db.one("SELECT id FROM endpoints WHERE project_id = ? AND name = ?", (project_id, name))
    return row is not None and row["id"] != exclude


async def create_endpoint(request: Request) -> JSONResponse:
    project = _project(request)
    body = await parse_body(request, EndpointCreate)
    name = _bare_name(body.name, project["slug"], "Endpoint")
    db = _state(request).db
    now = now_iso()
    endpoint_id = new_id("ep")
    with db.transaction() as conn:
        if conn.execute(
            "SELECT 1 FROM endpoints WHERE project_id = ? AND name = ?", (project["id"], name)
        ).fetchone():
            raise APIError(
                409,
                f"An endpoint named {project['slug']}/{name} already exists. Reuse it (GET "
                f'/v2/projects/{project["id"]}/endpoints?filter=name="{name}") or pick another name.',
                code="already_exists",
                param="name",
                headers=_NO_RETRY,
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
                now,
                now,
            ),
        )
    add_event(db, endpoint_id, "endpoint.created", f"Endpoint {project['slug']}/{name} created.")
    return JSONResponse(_endpoint_json(db, _endpoint_row(request, endpoint_id), project))


async def list_endpoints(request: Request) -> JSONResponse:
    project = _project(request)
    db = _state(request).db
    rows = [
        dict(r)
        for r in db.query("SELECT * FROM endpoints WHERE project_id = ? ORDER BY rowid", (project["id"],))
    ]
    items = _order(
        request, _filter_names(request, [_endpoint_json(db, r, project) for r in rows], project["slug"])
    )
    return _page(items, request)


async def get_endpoint(request: Request) -> JSONResponse:
    project = _project(request)
    _runtime(request)  # recovery runs before anyone reads states
    return JSONResponse(
        _endpoint_json(_state(request).db, _endpoint_row(request, request.path_params["ep"]), project)
    )


async def update_endpoint(request: Request) -> JSONResponse:
    project = _project(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    body = await parse_body(request, EndpointUpdate)
    mask = _mask(request, {"name", "trafficSplit", "visibility"})
    sent = body.model_fields_set - {"etag"}
    fields = mask if mask is not None else sent
    db = _state(request).db
    _check_etag(body.etag, endpoint["etag"], "endpoint")
    changes: dict[str, Any] = {}
    if "name" in fields:
        if not body.name:
            raise APIError(400, "updateMask includes 'name' but the body has no name.", param="name")
        name = _bare_name(body.name, project["slug"], "Endpoint")
        if _name_taken(db, project["id"], name, exclude=endpoint["id"]):
            raise APIError(
                409,
                f"An endpoint named {project['slug']}/{name} already exists; pick another name.",
                code="already_exists",
                param="name",
                headers=_NO_RETRY,
            )
        changes["name"] = name
    if "visibility" in fields and body.visibility:
        changes["visibility"] = body.visibility
    if "trafficSplit" in fields:
        entries = body.trafficSplit or []
        own = {d["id"] for d in _deployments_of(db, endpoint["id"])}
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if not math.isfinite(entry.weight):
                raise APIError(
                    400, f"trafficSplit[{i}].weight must be a finite number ≥ 0.", param="trafficSplit"
                )
            if entry.deploymentId not in own:
                raise APIError(
                    400,
                    f"trafficSplit[{i}].deploymentId {entry.deploymentId!r} is not a deployment of this endpoint. "
                    f"List them with GET /v2/projects/{project['id']}/endpoints/{endpoint['id']}/deployments.",
                    param="trafficSplit",
                )
            if entry.deploymentId in seen:
                raise APIError(
                    400,
                    f"trafficSplit lists {entry.deploymentId} twice; give each deployment one entry.",
                    param="trafficSplit",
                )
            seen.add(entry.deploymentId)
        changes["traffic_split"] = json.dumps(
            [{"deploymentId": e.deploymentId, "weight": e.weight} for e in entries]
        )
    if changes:
        _etag_update(db, "endpoints", endpoint["id"], changes, body.etag)
        if "traffic_split" in changes:
            add_event(
                db,
                endpoint["id"],
                "endpoint.traffic_split_updated",
                f"trafficSplit set to {changes['traffic_split']}.",
            )
    return JSONResponse(_endpoint_json(db, _endpoint_row(request, endpoint["id"]), project))


async def delete_endpoint(request: Request) -> JSONResponse:
    project = _project(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    _check_etag(request.query_params.get("etag"), endpoint["etag"], "endpoint")
    db = _state(request).db
    deployments = _deployments_of(db, endpoint["id"])
    if deployments:
        names = ", ".join(d["name"] for d in deployments)
        raise APIError(
            400,
            f"Endpoint {project['slug']}/{endpoint['name']} still has deployments ({names}). Delete the deployments "
            f"first (DELETE /v2/projects/{project['id']}/endpoints/{endpoint['id']}/deployments/<id>), then the endpoint.",
            code="failed_precondition",
        )
    with db.transaction() as conn:
        conn.execute("DELETE FROM endpoint_events WHERE endpoint_id = ?", (endpoint["id"],))
        conn.execute("DELETE FROM endpoints WHERE id = ?", (endpoint["id"],))
    return JSONResponse({})


async def list_events(request: Request) -> JSONResponse:
    _project(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    db = _state(request).db
    limit = _int_query(request, "limit", 50, 1, 10_000)
    min_level = request.query_params.get("minLevel") or "LEVEL_DEBUG"
    if min_level not in _LEVELS:
        raise APIError(400, f"minLevel must be one of {', '.join(_LEVELS)}.", param="minLevel")
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
        item = {
            "id": r["id"],
            "createdAt": r["created_at"],
            "endpointId": r["endpoint_id"],
            "level": r["level"],
            "source": "byom-engine",
            "sourceKind": "SOURCE_KIND_DEPLOYMENT" if r["deployment_id"] else "SOURCE_KIND_ENDPOINT",
            "type": r["type"],
            "message": r["message"],
        }
        if r["deployment_id"]:
            item["deploymentId"] = r["deployment_id"]
            item["subjectId"] = r["deployment_id"]
        if r["reason"]:
            item["reason"] = r["reason"]
        items.append(item)
    return _page(items, request, default_limit=limit, max_limit=10_000)


# --- deployments -----------------------------------------------------------------------------


class AutoscalingIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    minReplicas: int | None = Field(default=None, ge=0, le=64)
    maxReplicas: int | None = Field(default=None, ge=0, le=64)


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    autoscaling: AutoscalingIn | None = None
    model: str | None = None
    modelId: str | None = None
    modelRevisionId: str | None = None
    config: str | None = None
    configId: str | None = None
    inactiveTimeout: int | None = None
    maxConcurrentRequestsPerReplica: str | int | None = None
    placement: dict[str, Any] | None = None


class DeploymentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    etag: str | None = None
    name: str | None = None
    autoscaling: AutoscalingIn | None = None
    inactiveTimeout: int | None = None
    maxConcurrentRequestsPerReplica: str | int | None = None


def _check_inactive_timeout(value: int | None) -> int:
    # 0 or omitted disables auto-stop; otherwise 30-1440 minutes (ref §3.5, §3.11).
    if value is None or value == 0:
        return 0
    if not 30 <= value <= 1440:
        raise APIError(
            400,
            f"inactiveTimeout must be 0 (never auto-stop) or between 30 and 1440 minutes, got {value}.",
            param="inactiveTimeout",
        )
    return value


def _check_replicas(scaling: dict[str, Any]) -> None:
    lo, hi = int(scaling.get("minReplicas") or 0), int(scaling.get("maxReplicas") or 0)
    if hi < lo:
        raise APIError(
            400,
            f"autoscaling.maxReplicas ({hi}) is below minReplicas ({lo}); raise maxReplicas.",
            param="autoscaling.maxReplicas",
        )


def _max_concurrent(value: str | int | None) -> str | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise APIError(
            400,
            'maxConcurrentRequestsPerReplica must be an integer string such as "8".',
            param="maxConcurrentRequestsPerReplica",
        ) from None
    if number < 0:
        raise APIError(
            400, "maxConcurrentRequestsPerReplica must be ≥ 0.", param="maxConcurrentRequestsPerReplica"
        )
    return str(number)


def _deployment_row(request: Request, endpoint: dict[str, Any]) -> dict[str, Any]:
    ref = request.path_params["dep"]
    db = _state(request).db
    row = db.one("SELECT * FROM deployments WHERE endpoint_id = ? AND id = ?", (endpoint["id"], ref))
    if row is None:
        row = db.one(
            "SELECT * FROM deployments WHERE endpoint_id = ? AND name = ?",
            (endpoint["id"], ref.split("/")[-1]),
        )
    if row is None:
        raise APIError(
            404,
            f"Deployment {ref!r} not found under endpoint {endpoint['id']}. List them with "
            f"GET /v2/projects/{endpoint['project_id']}/endpoints/{endpoint['id']}/deployments.",
        )
    return dict(row)


def _one_deployment_json(
    db: Any, dep: dict[str, Any], endpoint: dict[str, Any], project: dict[str, str]
) -> dict[str, Any]:
    shares = _shares(endpoint, _deployments_of(db, endpoint["id"]))
    return _deployment_json(dep, endpoint, project, shares.get(dep["id"], 0.0))


async def create_deployment(request: Request) -> JSONResponse:
    project = _project(request)
    runtime = _runtime(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    body = await parse_body(request, DeploymentCreate)
    db = _state(request).db
    name = _bare_name(
        body.name, project["slug"], "Deployment", prefix_parts=2 if body.name.count("/") == 2 else 1
    )
    # The model: resource name (preferred) or the deprecated modelId + modelRevisionId.
    if body.model:
        model_ref, revision_id = _parse_model_ref(body.model, project)
    elif body.modelId:
        model_ref, revision_id = body.modelId, body.modelRevisionId
    else:
        raise APIError(
            400,
            f"Send 'model' as projects/{project['id']}/models/<ml_id>[/revisions/<rv_id>].",
            param="model",
        )
    model = _find_model(request, model_ref)
    revision = _revision(request, model, revision_id, param="model")
    # The config (which is the hardware).
    config_ref = body.config or body.configId
    if not config_ref:
        raise APIError(
            400,
            f"Send 'config' as projects/{project['id']}/configs/<cr_id>; list configs with "
            f"GET /v2/projects/{project['id']}/configs?referenceModel=projects/{project['id']}/models/{model['id']}.",
            param="config",
        )
    config_parts = config_ref.split("/")
    config_id = config_parts[-1]
    if len(config_parts) not in (1, 4) or (
        len(config_parts) == 4 and config_parts[:3] != ["projects", project["id"], "configs"]
    ):
        raise APIError(
            400,
            f"Invalid config {config_ref!r}: use projects/{project['id']}/configs/<cr_id>.",
            param="config",
        )
    devices = await anyio.to_thread.run_sync(probe_devices)
    device = next((d for d in devices if d.config_id == config_id), None)
    if device is None:
        raise APIError(
            400,
            f"Config {config_id!r} is not available on this machine. List configs with "
            f"GET /v2/projects/{project['id']}/configs?referenceModel=projects/{project['id']}/models/{model['id']}.",
            param="config",
        )
    params = _serving_parameters(db, model)
    if not fits(params, device):
        raise APIError(
            400,
            f"Model {model['id']} ({params} parameters) does not fit in {device.description}'s "
            f"{device.memory_gib} GiB. Pick another config from GET …/configs?referenceModel=….",
            param="config",
        )
    scaling = body.autoscaling.model_dump(exclude_none=True) if body.autoscaling else {}
    if "minReplicas" not in scaling and "maxReplicas" not in scaling:
        scaling.update(minReplicas=1, maxReplicas=1)  # the CLI's default (ref §3.5)
    scaling.setdefault("minReplicas", 0)
    scaling.setdefault("maxReplicas", scaling["minReplicas"])
    _check_replicas(scaling)
    inactive = _check_inactive_timeout(body.inactiveTimeout)
    max_concurrent = _max_concurrent(body.maxConcurrentRequestsPerReplica)
    running = int(scaling["maxReplicas"]) > 0
    now = now_iso()
    dep = {
        "id": new_id("dep"),
        "project_id": project["id"],
        "endpoint_id": endpoint["id"],
        "name": name,
        "model_id": model["id"],
        "revision_id": revision["id"],
        "config_id": device.config_id,
        "autoscaling": json.dumps(scaling),
        "inactive_timeout": inactive,
        "max_concurrent": max_concurrent,
        "placement": json.dumps(body.placement) if body.placement else None,
        "state": "DEPLOYMENT_STATE_PROVISIONING" if running else STOPPED,
        "message": "Queued for loading."
        if running
        else "Created stopped: minReplicas and maxReplicas are 0.",
        "etag": new_id("et"),
        "last_request_at": None,
        "created_at": now,
        "updated_at": now,
    }
    if db.one("SELECT 1 FROM deployments WHERE endpoint_id = ? AND name = ?", (endpoint["id"], name)):
        raise APIError(
            409,
            f"Endpoint {project['slug']}/{endpoint['name']} already has a deployment named {name!r}. "
            "Pick another name or update that deployment.",
            code="already_exists",
            param="name",
            headers=_NO_RETRY,
        )
    if request.query_params.get("validateOnly", "").lower() in ("true", "1"):
        return JSONResponse(_deployment_json(dep, endpoint, project, 0.0))
    with db.transaction() as conn:
        columns = ", ".join(dep)
        conn.execute(
            f"INSERT INTO deployments ({columns}) VALUES ({', '.join('?' for _ in dep)})", tuple(dep.values())
        )
        # A new endpoint's first deployment is routed at once (ref §7.1 leaves it open; an explicit
        # PATCH of trafficSplit still wins). Later deployments join the split only when asked.
        current = conn.execute(
            "SELECT traffic_split FROM endpoints WHERE id = ?", (endpoint["id"],)
        ).fetchone()
        if json.loads(current["traffic_split"] or "[]") == [] and not _deployments_before(
            conn, endpoint["id"], dep["id"]
        ):
            conn.execute(
                "UPDATE endpoints SET traffic_split = ?, etag = ?, updated_at = ? WHERE id = ?",
                (json.dumps([{"deploymentId": dep["id"], "weight": 1.0}]), new_id("et"), now, endpoint["id"]),
            )
    add_event(
        db,
        endpoint["id"],
        "deployment.created",
        f"Deployment {name} created: model {model['id']} revision {revision['id']} on {device.hardware}.",
        deployment_id=str(dep["id"]),
    )
    if running:
        runtime.provision(str(dep["id"]))
    stored = dict(db.one("SELECT * FROM deployments WHERE id = ?", (dep["id"],)))
    return JSONResponse(_one_deployment_json(db, stored, _endpoint_row(request, endpoint["id"]), project))


def _deployments_before(conn: Any, endpoint_id: str, dep_id: str) -> bool:
    row = conn.execute(
        "SELECT COUNT(*) AS n FROM deployments WHERE endpoint_id = ? AND id != ?", (endpoint_id, dep_id)
    ).fetchone()
    return bool(row["n"])


async def list_deployments(request: Request) -> JSONResponse:
    project = _project(request)
    _runtime(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    db = _state(request).db
    deployments = _deployments_of(db, endpoint["id"])
    shares = _shares(endpoint, deployments)
    items = [_deployment_json(d, endpoint, project, shares.get(d["id"], 0.0)) for d in deployments]
    raw = request.query_params.get("filter")
    state_filter = re.match(r'^\s*state\s*=\s*"?([A-Z_]+)"?\s*$', raw or "")
    if state_filter:
        items = [i for i in items if i["status"]["state"] == state_filter.group(1)]
    else:
        items = _filter_names(request, items, project["slug"])
    return _page(_order(request, items), request)


async def get_deployment(request: Request) -> JSONResponse:
    project = _project(request)
    _runtime(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    dep = _deployment_row(request, endpoint)
    return JSONResponse(_one_deployment_json(_state(request).db, dep, endpoint, project))


_DEPLOYMENT_MASK = {
    "name",
    "autoscaling",
    "autoscaling.minReplicas",
    "autoscaling.maxReplicas",
    "autoscaling.scaleDownWindow",
    "autoscaling.scaleUpWindow",
    "autoscaling.scaleToZeroWindow",
    "autoscaling.scalingMetrics",
    "autoscaling.scaleUp",
    "autoscaling.scaleDown",
    "autoscaling.scaleUp.policies",
    "autoscaling.scaleDown.policies",
    "inactiveTimeout",
    "maxConcurrentRequestsPerReplica",
}


async def update_deployment(request: Request) -> JSONResponse:
    project = _project(request)
    runtime = _runtime(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    dep = _deployment_row(request, endpoint)
    body = await parse_body(request, DeploymentUpdate)
    mask = _mask(request, _DEPLOYMENT_MASK)
    _check_etag(body.etag, dep["etag"], "deployment")
    db = _state(request).db
    changes: dict[str, Any] = {}
    wants = (
        (lambda f: f in mask or any(m.startswith(f + ".") for m in mask))
        if mask is not None
        else (lambda f: f in body.model_fields_set)
    )
    if wants("name") and body.name:
        name = _bare_name(
            body.name, project["slug"], "Deployment", prefix_parts=2 if body.name.count("/") == 2 else 1
        )
        other = db.one(
            "SELECT id FROM deployments WHERE endpoint_id = ? AND name = ?", (endpoint["id"], name)
        )
        if other is not None and other["id"] != dep["id"]:
            raise APIError(
                409,
                f"Another deployment of this endpoint is named {name!r}.",
                code="already_exists",
                param="name",
                headers=_NO_RETRY,
            )
        changes["name"] = name
    scaling = _autoscaling(dep)
    if wants("autoscaling"):
        sent = body.autoscaling.model_dump(exclude_none=True) if body.autoscaling else {}
        if mask is not None:
            for field in {m.split(".", 1)[1].split(".")[0] for m in mask if m.startswith("autoscaling.")}:
                if field in sent:
                    scaling[field] = sent[field]
                elif field not in ("minReplicas", "maxReplicas"):
                    scaling.pop(field, None)  # a masked field left out of the body is cleared
            if "autoscaling" in mask:
                scaling.update(sent)
        else:
            scaling.update(sent)  # omitted fields keep their value (ref §3.5)
        _check_replicas(scaling)
        changes["autoscaling"] = json.dumps(scaling)
    if wants("inactiveTimeout"):
        changes["inactive_timeout"] = _check_inactive_timeout(body.inactiveTimeout)
    if wants("maxConcurrentRequestsPerReplica"):
        changes["max_concurrent"] = _max_concurrent(body.maxConcurrentRequestsPerReplica)
    if changes:
        _etag_update(db, "deployments", dep["id"], changes, body.etag)
    if "autoscaling" in changes:
        stop = int(scaling.get("minReplicas") or 0) == 0 and int(scaling.get("maxReplicas") or 0) == 0
        if stop and dep["state"] != STOPPED:
            runtime.stop(dep["id"])
            add_event(
                db,
                endpoint["id"],
                "deployment.stopped",
                "Scaled to 0/0 replicas: stopped and unloaded.",
                deployment_id=dep["id"],
            )
        elif not stop and dep["state"] in (STOPPED, FAILED):
            add_event(
                db,
                endpoint["id"],
                "deployment.starting",
                "Scaled up from 0: loading the model.",
                deployment_id=dep["id"],
            )
            runtime.provision(dep["id"])
    stored = dict(db.one("SELECT * FROM deployments WHERE id = ?", (dep["id"],)))
    return JSONResponse(_one_deployment_json(db, stored, _endpoint_row(request, endpoint["id"]), project))


async def delete_deployment(request: Request) -> JSONResponse:
    _project(request)
    runtime = _runtime(request)
    endpoint = _endpoint_row(request, request.path_params["ep"])
    dep = _deployment_row(request, endpoint)
    _check_etag(request.query_params.get("etag"), dep["etag"], "deployment")
    db = _state(request).db
    runtime.forget(dep["id"])
    with db.transaction() as conn:
        current = conn.execute(
            "SELECT traffic_split FROM endpoints WHERE id = ?", (endpoint["id"],)
        ).fetchone()
        split = [e for e in json.loads(current["traffic_split"] or "[]") if e["deploymentId"] != dep["id"]]
        conn.execute(
            "UPDATE endpoints SET traffic_split = ?, etag = ?, updated_at = ? WHERE id = ?",
            (json.dumps(split), new_id("et"), now_iso(), endpoint["id"]),
        )
        conn.execute("DELETE FROM deployments WHERE id = ?", (dep["id"],))
    add_event(
        db,
        endpoint["id"],
        "deployment.deleted",
        f"Deployment {dep['name']} deleted and unloaded.",
        deployment_id=dep["id"],
    )
    return JSONResponse({})


routes: list[BaseRoute] = [
    Route(f"{_P}/endpoints", list_endpoints, methods=["GET"]),
    Route(f"{_P}/endpoints", create_endpoint, methods=["POST"]),
    Route(f"{_P}/endpoints/{{ep}}", get_endpoint, methods=["GET"]),
    Route(f"{_P}/endpoints/{{ep}}", update_endpoint, methods=["PATCH"]),
    Route(f"{_P}/endpoints/{{ep}}", delete_endpoint, methods=["DELETE"]),
    Route(f"{_P}/endpoints/{{ep}}/events", list_events, methods=["GET"]),
    Route(f"{_P}/endpoints/{{ep}}/deployments", list_deployments, methods=["GET"]),
    Route(f"{_P}/endpoints/{{ep}}/deployments", create_deployment, methods=["POST"]),
    Route(f"{_P}/endpoints/{{ep}}/deployments/{{dep}}", get_deployment, methods=["GET"]),
    Route(f"{_P}/endpoints/{{ep}}/deployments/{{dep}}", update_deployment, methods=["PATCH"]),
    Route(f"{_P}/endpoints/{{ep}}/deployments/{{dep}}", delete_deployment, methods=["DELETE"]),
]
