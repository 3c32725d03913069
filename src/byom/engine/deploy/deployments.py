"""The v2 deployments API: a registered model on a device config under an endpoint (create, list, get, update, delete).

Creating or scaling a deployment up hands it to the deploy runtime (``runtime.py``), which loads it in the
background: PROVISIONING → READY or FAILED; scaling to 0/0 stops it (ref together-api-2026-11 §3.5, §3.9-§3.11).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from byom.engine.db import new_id, now
from byom.engine.deploy.bodies import Autoscaling, DeploymentBody
from byom.engine.deploy.endpoints import (
    autoscaling_of,
    deployment_body,
    deployments_of,
    devices_probed,
    endpoint_row,
    traffic_shares,
)
from byom.engine.deploy.project import (
    PROJECT_ROUTE,
    already_exists,
    bare_name,
    check_etag,
    etag_update,
    filter_names,
    find_model,
    ordered,
    parse_model_ref,
    project_of,
    require_parent,
    revision_of,
    serving_parameters,
    update_mask,
)
from byom.engine.deploy.runtime import (
    FAILED,
    STOPPED,
    add_event,
)
from byom.engine.devices import device_for_config, fits, probe_devices
from byom.engine.http import answer, page, parse_body, wire
from byom.engine.state import engine_of
from byom.errors import InvalidRequest, NotFound

__all__ = ["deployment_row", "routes"]

# --- deployments -----------------------------------------------------------------------------


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    name: str
    autoscaling: Autoscaling | None = None
    model: str | None = None
    modelId: str | None = None
    modelRevisionId: str | None = None
    config: str | None = None
    configId: str | None = None
    inactiveTimeout: int | None = None
    maxConcurrentRequestsPerReplica: str | int | None = None
    placement: dict[str, Any] | None = None


class DeploymentUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    etag: str | None = None
    name: str | None = None
    autoscaling: Autoscaling | None = None
    inactiveTimeout: int | None = None
    maxConcurrentRequestsPerReplica: str | int | None = None


def _check_inactive_timeout(value: int | None) -> int:
    # 0 or omitted disables auto-stop; otherwise 30-1440 minutes (ref §3.5, §3.11).
    if value is None or value == 0:
        return 0
    if not 30 <= value <= 1440:
        raise InvalidRequest(
            f"inactiveTimeout must be 0 (never auto-stop) or between 30 and 1440 minutes, got {value}.",
            param="inactiveTimeout",
        )
    return value


def _check_replicas(scaling: dict[str, Any]) -> None:
    lo, hi = int(scaling.get("minReplicas") or 0), int(scaling.get("maxReplicas") or 0)
    if hi < lo:
        raise InvalidRequest(
            f"autoscaling.maxReplicas ({hi}) is below minReplicas ({lo}); raise maxReplicas.",
            param="autoscaling.maxReplicas",
        )


def _max_concurrent(value: str | int | None) -> str | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(
            'maxConcurrentRequestsPerReplica must be an integer string such as "8".',
            param="maxConcurrentRequestsPerReplica",
        ) from None
    if number < 0:
        raise InvalidRequest(
            "maxConcurrentRequestsPerReplica must be ≥ 0.", param="maxConcurrentRequestsPerReplica"
        )
    return str(number)


def deployment_row(request: Request, endpoint: dict[str, Any]) -> dict[str, Any]:
    ref = request.path_params["dep"]
    db = engine_of(request).db
    row = db.one("SELECT * FROM deployments WHERE endpoint_id = ? AND id = ?", (endpoint["id"], ref))
    if row is None:
        row = db.one(
            "SELECT * FROM deployments WHERE endpoint_id = ? AND name = ?",
            (endpoint["id"], ref.split("/")[-1]),
        )
    if row is None:
        raise NotFound(
            f"Deployment {ref!r} not found under endpoint {endpoint['id']}. List them with "
            f"GET /v2/projects/{endpoint['project_id']}/endpoints/{endpoint['id']}/deployments.",
        )
    return dict(row)


def _one_deployment_body(
    db: Any, dep: dict[str, Any], endpoint: dict[str, Any], project: dict[str, str]
) -> DeploymentBody:
    shares = traffic_shares(endpoint, deployments_of(db, endpoint["id"]))
    return deployment_body(dep, endpoint, project, shares.get(dep["id"], 0.0))


async def create_deployment(request: Request) -> JSONResponse:
    project = project_of(request)
    runtime = engine_of(request).deploy
    endpoint = endpoint_row(request, request.path_params["ep"])
    body = await parse_body(request, DeploymentCreate)
    db = engine_of(request).db
    name = bare_name(
        body.name, project["slug"], "Deployment", prefix_parts=2 if body.name.count("/") == 2 else 1
    )
    # The model: resource name (preferred) or the deprecated modelId + modelRevisionId.
    if body.model:
        model_ref, revision_id = parse_model_ref(body.model, project)
    elif body.modelId:
        model_ref, revision_id = body.modelId, body.modelRevisionId
    else:
        raise InvalidRequest(
            f"Send 'model' as projects/{project['id']}/models/<ml_id>[/revisions/<rv_id>].",
            param="model",
        )
    model = find_model(request, model_ref)
    revision = revision_of(request, model, revision_id, param="model")
    # The config (which is the hardware).
    config_ref = body.config or body.configId
    if not config_ref:
        raise InvalidRequest(
            f"Send 'config' as projects/{project['id']}/configs/<cr_id>; list configs with "
            f"GET /v2/projects/{project['id']}/configs?referenceModel=projects/{project['id']}/models/{model['id']}.",
            param="config",
        )
    config_parts = config_ref.split("/")
    config_id = config_parts[-1]
    if len(config_parts) not in (1, 4) or (
        len(config_parts) == 4 and config_parts[:3] != ["projects", project["id"], "configs"]
    ):
        raise InvalidRequest(
            f"Invalid config {config_ref!r}: use projects/{project['id']}/configs/<cr_id>.",
            param="config",
        )
    await anyio.to_thread.run_sync(probe_devices)
    device = device_for_config(config_id)
    if device is None:
        raise InvalidRequest(
            f"Config {config_id!r} is not available on this machine. List configs with "
            f"GET /v2/projects/{project['id']}/configs?referenceModel=projects/{project['id']}/models/{model['id']}.",
            param="config",
        )
    params = serving_parameters(db, model)
    if not fits(params, device):
        raise InvalidRequest(
            f"Model {model['id']} ({params} parameters) does not fit in {device.description}'s "
            f"{device.memory_gib} GiB. Pick another config from GET …/configs?referenceModel=….",
            param="config",
        )
    scaling = wire(body.autoscaling) if body.autoscaling else {}
    if "minReplicas" not in scaling and "maxReplicas" not in scaling:
        scaling.update(minReplicas=1, maxReplicas=1)  # the CLI's default (ref §3.5)
    scaling.setdefault("minReplicas", 0)
    scaling.setdefault("maxReplicas", scaling["minReplicas"])
    _check_replicas(scaling)
    inactive = _check_inactive_timeout(body.inactiveTimeout)
    max_concurrent = _max_concurrent(body.maxConcurrentRequestsPerReplica)
    running = int(scaling["maxReplicas"]) > 0
    stamp = now()
    dep = {
        "id": new_id("dep"),
        "project_id": project["id"],
        "endpoint_id": endpoint["id"],
        "name": name,
        "model_id": model["id"],
        "revision_id": revision["id"],
        "config_id": config_id,  # plain or _dynamic: the adapter mode is part of the config
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
        "created_at": stamp,
        "updated_at": stamp,
    }
    with db.transaction() as conn:
        # The endpoint was read before the body arrived: a delete may have landed since. Checked in the
        # transaction of the insert, so the answer is this 409, never a foreign-key failure.
        require_parent(
            conn,
            "endpoints",
            endpoint["id"],
            f"Endpoint {project['slug']}/{endpoint['name']} was deleted while this deployment was being created; "
            "nothing was created. Create the endpoint again, then the deployment.",
        )
        if conn.execute(
            "SELECT 1 FROM deployments WHERE endpoint_id = ? AND name = ?", (endpoint["id"], name)
        ).fetchone():
            raise already_exists(
                f"Endpoint {project['slug']}/{endpoint['name']} already has a deployment named {name!r}. "
                "Pick another name or update that deployment.",
            )
        if request.query_params.get("validateOnly", "").lower() in ("true", "1"):
            return answer(deployment_body(dep, endpoint, project, 0.0))
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
                (
                    json.dumps([{"deploymentId": dep["id"], "weight": 1.0}]),
                    new_id("et"),
                    stamp,
                    endpoint["id"],
                ),
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
    stored = dict(db.one_or_fail("SELECT * FROM deployments WHERE id = ?", (dep["id"],)))
    return answer(_one_deployment_body(db, stored, endpoint_row(request, endpoint["id"]), project))


def _deployments_before(conn: Any, endpoint_id: str, dep_id: str) -> bool:
    row = conn.execute(
        "SELECT COUNT(*) AS n FROM deployments WHERE endpoint_id = ? AND id != ?", (endpoint_id, dep_id)
    ).fetchone()
    return bool(row["n"])


async def list_deployments(request: Request) -> JSONResponse:
    await devices_probed()
    project = project_of(request)
    endpoint = endpoint_row(request, request.path_params["ep"])
    db = engine_of(request).db
    deployments = deployments_of(db, endpoint["id"])
    shares = traffic_shares(endpoint, deployments)
    bodies = [deployment_body(d, endpoint, project, shares.get(d["id"], 0.0)) for d in deployments]
    raw = request.query_params.get("filter")
    state_filter = re.match(r'^\s*state\s*=\s*"?([A-Z_]+)"?\s*$', raw or "")
    if state_filter:
        items = [wire(b) for b in bodies if b.status.state == state_filter.group(1)]
    else:
        items = filter_names(request, [wire(b) for b in bodies], project["slug"])
    return page(ordered(request, items), request)


async def get_deployment(request: Request) -> JSONResponse:
    await devices_probed()
    project = project_of(request)
    endpoint = endpoint_row(request, request.path_params["ep"])
    dep = deployment_row(request, endpoint)
    return answer(_one_deployment_body(engine_of(request).db, dep, endpoint, project))


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
    await devices_probed()
    project = project_of(request)
    runtime = engine_of(request).deploy
    endpoint = endpoint_row(request, request.path_params["ep"])
    dep = deployment_row(request, endpoint)
    body = await parse_body(request, DeploymentUpdate)
    mask = update_mask(request, _DEPLOYMENT_MASK)
    check_etag(body.etag, dep["etag"], "deployment")
    db = engine_of(request).db
    changes: dict[str, Any] = {}
    wants = (
        (lambda f: f in mask or any(m.startswith(f + ".") for m in mask))
        if mask is not None
        else (lambda f: f in body.model_fields_set)
    )
    if wants("name") and body.name:
        name = bare_name(
            body.name, project["slug"], "Deployment", prefix_parts=2 if body.name.count("/") == 2 else 1
        )
        other = db.one(
            "SELECT id FROM deployments WHERE endpoint_id = ? AND name = ?", (endpoint["id"], name)
        )
        if other is not None and other["id"] != dep["id"]:
            raise already_exists(
                f"Another deployment of this endpoint is named {name!r}.",
            )
        changes["name"] = name
    scaling = autoscaling_of(dep)
    if wants("autoscaling"):
        sent = wire(body.autoscaling) if body.autoscaling else {}
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
        etag_update(db, "deployments", dep["id"], changes, body.etag)
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
    stored = dict(db.one_or_fail("SELECT * FROM deployments WHERE id = ?", (dep["id"],)))
    return answer(_one_deployment_body(db, stored, endpoint_row(request, endpoint["id"]), project))


async def delete_deployment(request: Request) -> JSONResponse:
    project_of(request)
    runtime = engine_of(request).deploy
    endpoint = endpoint_row(request, request.path_params["ep"])
    dep = deployment_row(request, endpoint)
    check_etag(request.query_params.get("etag"), dep["etag"], "deployment")
    db = engine_of(request).db
    runtime.forget(dep["id"])
    with db.transaction() as conn:
        current = conn.execute(
            "SELECT traffic_split FROM endpoints WHERE id = ?", (endpoint["id"],)
        ).fetchone()
        split = [e for e in json.loads(current["traffic_split"] or "[]") if e["deploymentId"] != dep["id"]]
        conn.execute(
            "UPDATE endpoints SET traffic_split = ?, etag = ?, updated_at = ? WHERE id = ?",
            (json.dumps(split), new_id("et"), now(), endpoint["id"]),
        )
        conn.execute("DELETE FROM deployment_adapters WHERE deployment_id = ?", (dep["id"],))
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
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}/deployments", list_deployments, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}/deployments", create_deployment, methods=["POST"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}/deployments/{{dep}}", get_deployment, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}/deployments/{{dep}}", update_deployment, methods=["PATCH"]),
    Route(f"{PROJECT_ROUTE}/endpoints/{{ep}}/deployments/{{dep}}", delete_deployment, methods=["DELETE"]),
]
