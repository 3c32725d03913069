"""The app's shell: auth, Together-shaped errors for every failure, identity and catalogue endpoints."""

from __future__ import annotations

import json

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from byom.engine.auth import UnexpectedErrorMiddleware
from byom.engine.state import EngineState
from support.engine import BASE_URL, KEY, assert_together_error

pytestmark = pytest.mark.anyio


async def test_health_needs_no_key(engine: tuple[httpx2.AsyncClient, EngineState]) -> None:
    client, _ = engine
    r = await client.get("/health", headers={"Authorization": ""})
    assert r.status_code == 200 and r.json()["status"] == "ok"


@pytest.mark.parametrize("header", [None, "Bearer wrong-key", f"Basic {KEY}", "Bearer "])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/files"), ("POST", "/v1/fine-tunes"), ("GET", "/v3/whoami"), ("GET", "/v1/nothing-here")],
)
async def test_every_path_needs_the_key(
    client: httpx2.AsyncClient, header: str | None, method: str, path: str
) -> None:
    async with httpx2.AsyncClient(transport=client._transport, base_url=BASE_URL) as bare:
        headers = {"Authorization": header} if header is not None else {}
        r = await bare.request(method, path, headers=headers)
    body = assert_together_error(r, 401)
    assert body["error"]["type"] == "authentication_error"
    assert KEY not in r.text


async def test_unknown_path_and_method_are_together_shaped(client: httpx2.AsyncClient) -> None:
    assert_together_error(await client.get("/v1/nothing-here"), 404)
    assert_together_error(await client.get("/v1/fine-tunes/ft-missing"), 404, param="id")
    assert_together_error(await client.get("/v1/files/file-missing"), 404, param="id")
    assert_together_error(await client.patch("/v1/files"), 405)


async def test_an_internal_fault_is_a_500_without_traceback() -> None:
    # A bug no handler anticipated (damaged rows are rendered gracefully now, so raise one outright): the
    # outermost guard answers Together's error shape, logs the traceback, and shows the client none of it.
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise json.JSONDecodeError("Expecting value", "{not json", 1)

    app = UnexpectedErrorMiddleware(broken)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=BASE_URL) as client:
        r = await client.get("/v1/fine-tunes/ft-broken")
    body = assert_together_error(r, 500)
    assert body["error"]["type"] == "server_error"
    assert "JSONDecodeError" not in r.text and "line" not in body["error"]["message"]


async def test_whoami_is_a_project_key(client: httpx2.AsyncClient) -> None:
    body = (await client.get("/v3/whoami")).json()
    assert body["type"] == "project_api_key"
    assert body["project"] == {"id": "proj_local", "slug": "local", "name": "Local engine"}


async def test_limits_come_from_the_catalog(client: httpx2.AsyncClient) -> None:
    r = await client.get("/v1/fine-tunes/models/limits", params={"model_name": "Qwen/Qwen3-0.6B"})
    assert r.status_code == 200
    limits = r.json()
    assert limits["model_name"] == "Qwen/Qwen3-0.6B"
    assert limits["lora_training"]["max_rank"] >= 8 and limits["full_training"] is not None
    missing = await client.get("/v1/fine-tunes/models/limits", params={"model_name": "nobody/nothing"})
    assert assert_together_error(missing, 404)["message"]
    assert_together_error(await client.get("/v1/fine-tunes/models/limits"), 400, param="model_name")


async def test_supported_models_page_with_a_cursor(client: httpx2.AsyncClient) -> None:
    seen: list[str] = []
    after: str | None = None
    while True:
        params = {"product": "PRODUCT_FINE_TUNING", "limit": "25", **({"after": after} if after else {})}
        page = (await client.get("/v2/supported-models", params=params)).json()
        seen += [m["id"] for m in page["data"]]
        after = page["next_cursor"]
        if not after:
            break
    assert len(seen) == len(set(seen)) > 25 and "Qwen/Qwen3-0.6B" in seen
    only = (await client.get("/v2/supported-models", params={"search": "qwen3-0.6b"})).json()["data"]
    assert {m["id"] for m in only} >= {"Qwen/Qwen3-0.6B"}
    assert_together_error(
        await client.get("/v2/supported-models", params={"product": "PRODUCT_X"}), 400, "product"
    )
    one = await client.get("/v2/supported-models/Qwen/Qwen3-0.6B")
    assert one.status_code == 200 and one.json()["name"] == "Qwen/Qwen3-0.6B"
