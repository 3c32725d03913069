"""The v2 model registry API: models, revisions, files, serving configs and inference instance types.

Paths and shapes follow Together's v2 model registry, configs and hardware catalogue as SDK
``together`` 3.1.1 calls them (ref together-api-2026-11 §3.3, §3.6-§3.8): camelCase JSON,
``{data, next_cursor}`` lists. The engine is one project (``EngineState.project``).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from byom.engine.db import iso
from byom.engine.deploy import registry
from byom.engine.deploy.bodies import (
    ConfigBody,
    ConfigSelector,
    DtypeCount,
    Headroom,
    InstanceRegion,
    InstanceTypeBody,
    InstanceTypeList,
    ModelFileBody,
    ModelFilesBody,
    RegistryModelBody,
    RevisionBody,
    WeightParameters,
    Weights,
)
from byom.engine.deploy.project import (
    PROJECT_ROUTE,
    find_model,
    parse_model_ref,
    project_of,
    revision_of,
    serving_parameters,
)
from byom.engine.devices import Device, adapter_mode, device_for_config, fits, probe_devices
from byom.engine.http import answer, page, wire
from byom.engine.state import engine_of
from byom.errors import InvalidRequest, NotFound

__all__ = ["routes"]

_MAX_FILES = 10_000


# --- model registry --------------------------------------------------------------------------


def _weights(row: dict[str, Any]) -> Weights:
    parameters = None
    if row.get("parameters"):
        by_dtype = json.loads(row["parameters_by_dtype"]) if row.get("parameters_by_dtype") else {}
        parameters = WeightParameters(
            total=str(row["parameters"]),
            by_dtype=[DtypeCount(dtype=k, count=str(v)) for k, v in sorted(by_dtype.items())],
        )
    return Weights(
        type="WEIGHTS_TYPE_ADAPTER" if row["kind"] == "adapter" else "WEIGHTS_TYPE_DEFAULT",
        architecture=row.get("architecture") or None,
        context_length=str(row["context_length"]) if row.get("context_length") else None,
        parameters=parameters,
    )


def _model_body(row: dict[str, Any], project: dict[str, str]) -> RegistryModelBody:
    base = row.get("base_model_id") or None
    return RegistryModelBody(
        id=row["id"],
        name=f"{project['slug']}/{row['name']}",
        organization_id=project.get("organization_id", "org_local"),
        project_id=row["project_id"],
        visibility=row["visibility"],
        weights=_weights(row),
        description=row.get("description") or "",
        created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]),
        base_model_id=base,
        base_model=f"projects/{row['project_id']}/models/{base}" if base else None,
    )


async def list_models(request: Request) -> JSONResponse:
    project = project_of(request)
    db = engine_of(request).db
    rows = registry.list_models(db, project["id"])
    visibility = request.query_params.get("visibility")
    items = [wire(_model_body(r, project)) for r in rows if not visibility or r["visibility"] == visibility]
    return page(items, request)


async def get_model(request: Request) -> JSONResponse:
    return answer(_model_body(find_model(request, request.path_params["model_id"]), project_of(request)))


async def delete_model(request: Request) -> JSONResponse:
    project = project_of(request)
    model = find_model(request, request.path_params["model_id"])
    db = engine_of(request).db
    users = db.query(
        "SELECT name FROM deployments WHERE project_id = ? AND model_id = ?", (project["id"], model["id"])
    )
    if users:
        names = ", ".join(r["name"] for r in users)
        raise InvalidRequest(
            f"Model {model['id']} is used by deployments ({names}). Delete those deployments first.",
            code="failed_precondition",
        )
    attached = db.query(
        "SELECT d.name FROM deployment_adapters a JOIN deployments d ON d.id = a.deployment_id"
        " WHERE a.adapter_model_id = ?",
        (model["id"],),
    )
    if attached:
        names = ", ".join(r["name"] for r in attached)
        raise InvalidRequest(
            f"Adapter {model['id']} is attached to deployments ({names}). Detach it first "
            "(DELETE …/deployments/<dep>/adapters/<dad>?etag=).",
            code="failed_precondition",
        )
    derived = db.query("SELECT name FROM registry_models WHERE base_model_id = ?", (model["id"],))
    if derived:
        names = ", ".join(f"{project['slug']}/{r['name']}" for r in derived)
        raise InvalidRequest(
            f"Model {model['id']} is the base of {names}. Delete those models first.",
            code="failed_precondition",
        )
    registry.delete_model(db, project["id"], str(model["id"]))
    return JSONResponse({})


async def list_model_revisions(request: Request) -> JSONResponse:
    model = find_model(request, request.path_params["model_id"])
    revisions = registry.list_revisions(engine_of(request).db, str(model["id"]))
    items = [
        wire(
            RevisionBody(
                id=r["id"],
                revision_id=r["id"],
                created_at=iso(r["created_at"]),
                last_validated_at=iso(r["created_at"]),
            )
        )
        for r in revisions
    ]
    return page(items, request)


async def list_model_files(request: Request) -> JSONResponse:
    from pathlib import Path

    model = find_model(request, request.path_params["model_id"])
    revision = revision_of(request, model, request.query_params.get("revisionId"), param="revisionId")
    root = Path(str(revision["path"]))
    sizes: dict[str, int] = {}
    if root.is_dir():
        # A weights dir holds a handful of files; a cap keeps a mis-registered huge dir cheap to list.
        for file in sorted(itertools.islice((p for p in root.rglob("*") if p.is_file()), _MAX_FILES)):
            sizes[file.relative_to(root).as_posix()] = file.stat().st_size
    return answer(
        ModelFilesBody(
            data=[ModelFileBody(path=path, size_bytes=str(size)) for path, size in sizes.items()],
            revision_id=revision["id"],
            revision_created_at=iso(revision["created_at"]),
            total_size_bytes=str(sum(sizes.values())),
        )
    )


# --- configs and instance types --------------------------------------------------------------


def _config_body(
    device: Device, project: dict[str, str], model: dict[str, Any] | None, *, dynamic: bool = False
) -> ConfigBody:
    ref = f"projects/{model['project_id']}/models/{model['id']}" if model else ""
    lora = " LoRA adapters attach to its deployments at run time (POST …/deployments/{dep}/adapters)."
    return ConfigBody(
        id=device.dynamic_config_id if dynamic else device.config_id,
        project_id=project["id"],
        reference_model=ref,
        reference_model_id=model["id"] if model else "",
        selectors=[
            ConfigSelector(key="accelerator_type", value=device.accelerator_type),
            ConfigSelector(key="accelerator_count", value="1"),
            ConfigSelector(key="adapter_mode", value="dynamic" if dynamic else "disabled"),
        ],
        description=f"Serve on this machine's {device.description} with transformers."
        + (lora if dynamic else ""),
    )


def _configs_of(device: Device, project: dict[str, str], model: dict[str, Any] | None) -> list[ConfigBody]:
    # The plain config first (what a plain deploy picks); a base model also gets the dynamic one that
    # adapters attach to. An adapter deploys merge-style on the plain one: attaching onto it means nothing.
    bodies = [_config_body(device, project, model)]
    if model is None or model["kind"] != "adapter":
        bodies.append(_config_body(device, project, model, dynamic=True))
    return bodies


async def list_configs(request: Request) -> JSONResponse:
    project = project_of(request)
    db = engine_of(request).db
    ref = request.query_params.get("referenceModel")
    ref_id = request.query_params.get("referenceModelId")
    model: dict[str, Any] | None = None
    if ref:
        model_id, _ = parse_model_ref(ref, project)
        if ref_id and ref_id != model_id:
            raise InvalidRequest(
                "referenceModel and referenceModelId name different models; send one of them.",
                param="referenceModelId",
            )
        model = find_model(request, model_id)
    elif ref_id:
        model = find_model(request, ref_id)
    devices = await anyio.to_thread.run_sync(probe_devices)
    params = serving_parameters(db, model) if model else None
    items = [
        wire(body)
        for d in devices
        if model is None or fits(params, d)
        for body in _configs_of(d, project, model)
    ]
    return page(items, request)


async def get_config(request: Request) -> JSONResponse:
    project = project_of(request)
    await anyio.to_thread.run_sync(probe_devices)
    config_id = request.path_params["config_id"]
    device = device_for_config(config_id)
    if device is None:
        raise NotFound(
            f"Config {request.path_params['config_id']!r} not found. "
            f"List configs with GET /v2/projects/{project['id']}/configs?referenceModel=….",
        )
    return answer(_config_body(device, project, None, dynamic=adapter_mode(config_id) == "dynamic"))


def _instance_type_body(device: Device) -> InstanceTypeBody:
    return InstanceTypeBody(
        id=device.instance_type_id,
        name=device.hardware,
        description=f"This machine: {device.description}, {device.memory_gib} GiB"
        + ({"cpu": " system RAM", "mps": " unified memory"}.get(device.key, "")),
        gpu_count=0 if device.key == "cpu" else 1,
        gpu_memory_gib=device.memory_gib,
        gpu_type=device.gpu_type,
        regions=[InstanceRegion(name="local", headroom=Headroom(relation="RELATION_EQ", value=1))],
    )


async def list_instance_types(request: Request) -> JSONResponse:
    devices = await anyio.to_thread.run_sync(probe_devices)
    return answer(InstanceTypeList(data=[_instance_type_body(d) for d in devices]))


async def get_instance_type(request: Request) -> JSONResponse:
    devices = await anyio.to_thread.run_sync(probe_devices)
    wanted = request.path_params["type_id"]
    for device in devices:
        if wanted in (device.instance_type_id, device.hardware):
            return answer(_instance_type_body(device))
    raise NotFound(
        f"Instance type {wanted!r} not found. List them with GET /v2/public/inference-instance-types."
    )


routes: list[BaseRoute] = [
    Route("/v2/public/inference-instance-types", list_instance_types, methods=["GET"]),
    Route("/v2/public/inference-instance-types/{type_id}", get_instance_type, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/models", list_models, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/models/{{model_id}}", get_model, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/models/{{model_id}}", delete_model, methods=["DELETE"]),
    Route(f"{PROJECT_ROUTE}/models/{{model_id}}/revisions", list_model_revisions, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/models/{{model_id}}/files", list_model_files, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/configs", list_configs, methods=["GET"]),
    Route(f"{PROJECT_ROUTE}/configs/{{config_id}}", get_config, methods=["GET"]),
]
