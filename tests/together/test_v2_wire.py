"""The v2 deploy requests byom sends are the ones SDK 3.1.1 sends (ref together-api-2026-11 §3.4–3.13, captured
bodies): endpoint create, deployment create, the traffic split, stop/start, deletes, adapter attach."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from byom.together import AutoscalingSpec, DeploymentCreate, TrafficSplitEntry
from support.together_api import Recorder

pytestmark = pytest.mark.anyio

P = "proj_1"


def _answer(request: httpx2.Request) -> httpx2.Response:
    path = request.url.path
    if request.method == "DELETE":
        return httpx2.Response(200, json={})
    if "/adapters" in path:
        return httpx2.Response(200, json={"id": "dad_1", "adapterModelId": "ml_a", "etag": "e"})
    if "/deployments" in path:
        return httpx2.Response(200, json={"id": "dep_1", "name": "s/ep/d1", "etag": "e2"})
    return httpx2.Response(200, json={"id": "ep_1", "name": "s/my-ft", "etag": "e1", "trafficSplit": []})


def _sent(recorder: Recorder) -> tuple[str, str, dict[str, str], Any]:
    request = recorder.requests[-1]
    body = json.loads(request.content) if request.content else None
    return request.method, request.url.path, dict(request.url.params), body


async def test_endpoint_create_body_is_the_name() -> None:
    rec = Recorder(_answer)
    async with rec.client() as client:
        await client.create_endpoint(P, "my-ft")
    assert _sent(rec) == ("POST", f"/v2/projects/{P}/endpoints", {}, {"name": "my-ft"})


async def test_deployment_create_body_matches_the_captured_one() -> None:
    # §3.13 step 5: {"name","model","config","autoscaling":{"minReplicas":1,"maxReplicas":1},"inactiveTimeout":60}
    rec = Recorder(_answer)
    body = DeploymentCreate(
        name="my-ft-1",
        model="projects/p/models/ml_1/revisions/rv_1",
        config="projects/cp/configs/cr_1",
        autoscaling=AutoscalingSpec(min_replicas=1, max_replicas=1),
        inactive_timeout=60,
    )
    async with rec.client() as client:
        await client.create_deployment(P, "ep_1", body)
    assert _sent(rec) == (
        "POST",
        f"/v2/projects/{P}/endpoints/ep_1/deployments",
        {},
        {
            "name": "my-ft-1",
            "model": "projects/p/models/ml_1/revisions/rv_1",
            "config": "projects/cp/configs/cr_1",
            "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
            "inactiveTimeout": 60,
        },
    )


async def test_traffic_split_is_the_captured_patch() -> None:
    # §3.10: PATCH …?updateMask=trafficSplit {"etag": "…", "trafficSplit": [{"deploymentId": "dep_…", "weight": 1}]}
    rec = Recorder(_answer)
    async with rec.client() as client:
        await client.set_traffic_split(
            P, "ep_1", [TrafficSplitEntry(deployment_id="dep_1", weight=1)], etag="e1"
        )
    method, path, params, body = _sent(rec)
    assert (method, path, params) == (
        "PATCH",
        f"/v2/projects/{P}/endpoints/ep_1",
        {"updateMask": "trafficSplit"},
    )
    assert body == {"etag": "e1", "trafficSplit": [{"deploymentId": "dep_1", "weight": 1}]}


@pytest.mark.parametrize("replicas", [0, 1])
async def test_stop_and_start_are_the_captured_autoscaling_patch(replicas: int) -> None:
    # §3.11: updateMask=autoscaling.minReplicas,autoscaling.maxReplicas {"autoscaling":{"minReplicas":0,"maxReplicas":0}}
    rec = Recorder(_answer)
    async with rec.client() as client:
        await client.scale_deployment(P, "ep_1", "dep_1", min_replicas=replicas, max_replicas=replicas)
    method, path, params, body = _sent(rec)
    assert (method, path) == ("PATCH", f"/v2/projects/{P}/endpoints/ep_1/deployments/dep_1")
    assert params == {"updateMask": "autoscaling.minReplicas,autoscaling.maxReplicas"}
    assert body["autoscaling"] == {"minReplicas": replicas, "maxReplicas": replicas}


async def test_deletes_carry_the_etag_as_a_query() -> None:
    rec = Recorder(_answer)
    async with rec.client() as client:
        await client.delete_deployment(P, "ep_1", "dep_1", etag="e2")
        assert _sent(rec) == (
            "DELETE",
            f"/v2/projects/{P}/endpoints/ep_1/deployments/dep_1",
            {"etag": "e2"},
            None,
        )
        await client.delete_endpoint(P, "ep_1")
        assert _sent(rec) == ("DELETE", f"/v2/projects/{P}/endpoints/ep_1", {}, None)


async def test_adapter_attach_body() -> None:
    # §3.9 / §3.13 attach: {"adapterModelId": "ml_adapter", "adapterRevisionId": "rv_…"}
    rec = Recorder(_answer)
    async with rec.client() as client:
        await client.attach_adapter(P, "ep_1", "dep_1", "ml_a", adapter_revision_id="rv_a")
    assert _sent(rec) == (
        "POST",
        f"/v2/projects/{P}/endpoints/ep_1/deployments/dep_1/adapters",
        {},
        {"adapterModelId": "ml_a", "adapterRevisionId": "rv_a"},
    )


async def test_path_parameters_are_percent_encoded() -> None:
    rec = Recorder(_answer)
    async with rec.client() as client:
        await client.retrieve_endpoint(P, "a/b")
    assert rec.requests[-1].url.raw_path.decode().endswith("/endpoints/a%2Fb")
