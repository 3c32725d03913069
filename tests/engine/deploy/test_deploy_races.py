"""A delete that lands while a create under the deleted row is still receiving its body: a 409 that says so, never
a foreign-key failure (a 500), and nothing half-created.

The race is made exact, not timed: the create's body arrives in two chunks, and the second is held back until the
delete has been answered. The engine asks for the second chunk only once it has read the first, i.e. once the create
has looked up its parent and is waiting for the rest of its body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from byom.engine.deploy.registry import register_model
from byom.engine.state import EngineState
from support.engine import PID, P, assert_together_error, make_adapter, register_tiny

pytestmark = pytest.mark.anyio

STOPPED = {"minReplicas": 0, "maxReplicas": 0}  # nothing is loaded: the race is about rows, not weights


async def send_racing(
    client: httpx2.AsyncClient,
    url: str,
    body: dict[str, Any],
    meanwhile: Callable[[], Awaitable[httpx2.Response]],
    method: str = "POST",
) -> tuple[httpx2.Response, httpx2.Response]:
    """Send ``body`` to ``url``; ``meanwhile`` runs (to its answer) while the engine waits for the body's rest."""
    raw = json.dumps(body).encode()
    mid_body, release = anyio.Event(), anyio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        yield raw[:8]
        mid_body.set()  # the engine asked for more: it has read the row it works on and waits for its body
        await release.wait()
        yield raw[8:]

    answers: dict[str, httpx2.Response] = {}

    async def create() -> None:
        answers["create"] = await client.request(
            method, url, content=chunks(), headers={"content-type": "application/json"}
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(create)
        await mid_body.wait()
        answers["meanwhile"] = await meanwhile()
        release.set()
    return answers["create"], answers["meanwhile"]


def _deployment(model_id: str, config: str = "cr_local_cpu") -> dict[str, Any]:
    return {
        "name": "d1",
        "model": f"projects/{PID}/models/{model_id}",
        "config": f"projects/{PID}/configs/{config}",
        "autoscaling": STOPPED,
    }


async def test_an_endpoint_deleted_while_a_deployment_create_receives_its_body_is_a_409(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path
) -> None:
    client, state = engine
    model = register_tiny(state, tiny_model)
    ep = (await client.post(f"{P}/endpoints", json={"name": "race"})).json()

    created, deleted = await send_racing(
        client,
        f"{P}/endpoints/{ep['id']}/deployments",
        _deployment(model.id),
        lambda: client.delete(f"{P}/endpoints/{ep['id']}"),
    )

    assert deleted.status_code == 200, deleted.text
    error = assert_together_error(created, 409)["error"]
    assert error["code"] == "aborted" and created.headers["x-should-retry"] == "false"
    assert "local/race was deleted while this deployment was being created" in error["message"]
    assert "Create the endpoint again" in error["message"]
    assert state.db.query("SELECT id FROM deployments") == []
    assert state.db.query("SELECT id FROM endpoints") == []


async def test_a_deployment_created_first_keeps_its_endpoint_from_being_deleted(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path
) -> None:
    # The other order: the create wins, so the delete sees its deployment (a 400 that says what to delete first).
    client, state = engine
    model = register_tiny(state, tiny_model)
    ep = (await client.post(f"{P}/endpoints", json={"name": "race"})).json()
    created = await client.post(f"{P}/endpoints/{ep['id']}/deployments", json=_deployment(model.id))
    assert created.status_code == 200, created.text
    deleted = await client.delete(f"{P}/endpoints/{ep['id']}")
    assert assert_together_error(deleted, 400)["error"]["code"] == "failed_precondition"
    assert "still has deployments (d1)" in deleted.json()["error"]["message"]


async def test_a_deployment_deleted_while_an_adapter_attach_receives_its_body_is_a_409(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, tmp_path: Path
) -> None:
    client, state = engine
    base = register_tiny(state, tiny_model, name="tiny-base")
    adapter = register_model(
        state.db,
        project_id=PID,
        project_slug="local",
        name="tiny-base-adapter",
        kind="adapter",
        path=make_adapter(tiny_model, tmp_path / "lora"),
        base_model_id=base.id,
    )
    ep = (await client.post(f"{P}/endpoints", json={"name": "lora"})).json()
    dep = await client.post(
        f"{P}/endpoints/{ep['id']}/deployments", json=_deployment(base.id, "cr_local_cpu_dynamic")
    )
    assert dep.status_code == 200, dep.text
    dep_url = f"{P}/endpoints/{ep['id']}/deployments/{dep.json()['id']}"

    attached, deleted = await send_racing(
        client, f"{dep_url}/adapters", {"adapterModelId": adapter.id}, lambda: client.delete(dep_url)
    )

    assert deleted.status_code == 200, deleted.text
    error = assert_together_error(attached, 409)["error"]
    assert error["code"] == "aborted" and "Deployment d1 was deleted while this adapter" in error["message"]
    assert state.db.query("SELECT id FROM deployment_adapters") == []


async def test_an_update_whose_endpoint_or_deployment_is_deleted_meanwhile_is_a_409(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path
) -> None:
    client, state = engine
    model = register_tiny(state, tiny_model)
    ep = (await client.post(f"{P}/endpoints", json={"name": "race"})).json()
    dep = (await client.post(f"{P}/endpoints/{ep['id']}/deployments", json=_deployment(model.id))).json()
    dep_url = f"{P}/endpoints/{ep['id']}/deployments/{dep['id']}"

    updated, deleted = await send_racing(
        client, dep_url, {"inactiveTimeout": 30}, lambda: client.delete(dep_url), method="PATCH"
    )
    assert deleted.status_code == 200, deleted.text
    error = assert_together_error(updated, 409)["error"]
    assert error["code"] == "aborted" and "deployment was deleted while this update" in error["message"]

    ep_url = f"{P}/endpoints/{ep['id']}"
    updated, deleted = await send_racing(
        client, ep_url, {"visibility": "VISIBILITY_INTERNAL"}, lambda: client.delete(ep_url), method="PATCH"
    )
    assert deleted.status_code == 200, deleted.text
    error = assert_together_error(updated, 409)["error"]
    assert error["code"] == "aborted" and "endpoint was deleted while this update" in error["message"]
