"""Strict JSON on every JSON route: what Python's json would accept but the engine must refuse with a 400."""

from __future__ import annotations

import httpx2
import pytest
from starlette.routing import Route

from byom.engine.app import create_app
from byom.engine.state import EngineState
from support.engine import assert_together_error

pytestmark = pytest.mark.anyio

HOSTILE = {
    "deep nesting": b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "a 5000-digit integer": b'{"n_epochs": ' + b"9" * 5000 + b"}",
    "a lone surrogate": b'{"suffix": "x\\ud800y", "messages": [{"role": "user", "content": "\\udfff"}]}',
    "Infinity": b'{"learning_rate": Infinity}',
    "NaN": b'{"learning_rate": NaN}',
    "not JSON": b"{'single': 'quotes'}",
    "invalid UTF-8": b'{"suffix": "\xff\xfe"}',
}


def _json_routes(state: EngineState) -> list[tuple[str, str, bool]]:
    """Every POST/PATCH route of the app that reads a JSON body (multipart uploads excepted)."""
    out = []
    for route in create_app(state).routes:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) & {"POST", "PATCH"}):
            if route.path.startswith("/v1/files"):
                continue  # form fields and uploads, not JSON
            path = (
                route.path.replace("{pid}", "proj_local")
                .replace("{ep}", "ep_none")
                .replace("{dep}", "dp_none")
                .replace("{job_id}", "ft-none")
                .replace("{model_id}", "ml_none")
            )
            out.append((method, path, "{" in route.path))
    return out


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_every_json_route_refuses_hostile_json_with_a_400(
    engine: tuple[httpx2.AsyncClient, EngineState], case: str
) -> None:
    client, state = engine
    routes = _json_routes(state)
    assert len(routes) >= 6  # fine-tunes, estimate, cancel, endpoints, deployments, completions ...
    for method, path, names_a_resource in routes:
        response = await client.request(
            method, path, content=HOSTILE[case], headers={"content-type": "application/json"}
        )
        # A route that finds no such job/endpoint first may answer 404; nothing answers 5xx or accepts it.
        allowed = (400, 404, 413) if names_a_resource else (400, 413)
        assert response.status_code in allowed, (method, path, response.status_code, response.text)
        body = assert_together_error(response, response.status_code)
        assert "Traceback" not in response.text and len(body["error"]["message"]) < 1000
    assert (await client.get("/v1/fine-tunes")).status_code == 200
