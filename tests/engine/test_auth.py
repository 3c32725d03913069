"""auth.py: any Authorization header a client can send is a 401 (never a 500); the access log keeps no secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.engine.app import create_app
from byom.engine.state import EngineState
from support.engine import KEY, make_state

pytestmark = pytest.mark.anyio


async def _call(
    state: EngineState, headers: list[tuple[bytes, bytes]], path: str = "/v1/files"
) -> tuple[int, Any]:
    """One request through the ASGI app with exactly these raw header bytes (no client library in between)."""
    app = create_app(state)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 8377),
        "app": app,
    }
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


@pytest.fixture
def state(tmp_path: Path):
    opened = make_state(tmp_path)
    yield opened
    opened.close()


@pytest.mark.parametrize(
    "header",
    [
        b"Bearer \xff\xfe",
        b"Bearer " + "clé".encode(),
        b"\xff\xfe",
        b"Bearer",
        b"Bearer  ",
        b"bearer\x00" + KEY.encode(),
        b"Bearer " + KEY.encode() + b"\xff",
    ],
)
async def test_a_malformed_authorization_header_is_a_401(state: EngineState, header: bytes) -> None:
    status, body = await _call(state, [(b"authorization", header)])
    assert status == 401, body
    assert body["error"]["type"] == "authentication_error" and body["error"]["code"] == "invalid_api_key"
    assert set(body["error"]) >= {"message", "type", "param", "code"}


async def test_the_right_key_as_raw_bytes_passes(state: EngineState) -> None:
    status, body = await _call(state, [(b"authorization", b"Bearer " + KEY.encode())])
    assert status == 200 and body["object"] == "list"


async def test_the_access_log_has_method_path_status_and_no_secret(
    engine: tuple[httpx2.AsyncClient, EngineState], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = engine
    form = {"purpose": "fine-tune", "file_name": "t.jsonl", "file_type": "jsonl"}
    with caplog.at_level(logging.INFO, logger="byom.engine.access"):
        created = await client.post("/v1/files", files={k: (None, v) for k, v in form.items()})
        location = created.headers["location"]
        token = location.split("token=")[1]
        await client.put(location, content=b'{"text": "hi"}\n', headers={"Authorization": ""})
        await client.get("/v1/nothing-here", headers={"Authorization": "Bearer wrong-key"})
    lines = [r.getMessage() for r in caplog.records if r.name == "byom.engine.access"]
    assert len(lines) == 3, lines
    assert lines[0].startswith("POST /v1/files 302 ") and lines[0].endswith("ms")
    assert lines[1].startswith(f"PUT /v1/files/{created.headers['x-together-file-id']}/upload 200 ")
    assert lines[2].startswith("GET /v1/nothing-here 401 ")
    logged = "\n".join(lines)
    assert token not in logged and "token" not in logged and KEY not in logged and "wrong-key" not in logged


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/v1/x%0d%0aGET%20/v1/forged%20200%201ms", "/v1/x\\r\\nGET /v1/forged 200 1ms"),
        ("/v1/x%00y", "/v1/x\\x00y"),
        ("/v1/x%1b[2Ky%7f", "/v1/x\\x1b[2Ky\\x7f"),
        ("/v1/x%e2%80%a8y%e2%80%aez", "/v1/x\\u2028y\\u202ez"),
        ("/v1/x%5cr", "/v1/x\\\\r"),  # a literal backslash cannot pass for an escape
    ],
)
async def test_the_access_log_writes_one_escaped_line_whatever_the_path_holds(
    engine: tuple[httpx2.AsyncClient, EngineState], caplog: pytest.LogCaptureFixture, path: str, shown: str
) -> None:
    client, _ = engine
    with caplog.at_level(logging.INFO, logger="byom.engine.access"):
        response = await client.get(path, headers={"Authorization": ""})
    assert response.status_code == 401
    lines = [logging.Formatter().format(r) for r in caplog.records if r.name == "byom.engine.access"]
    assert len(lines) == 1 and lines[0].isprintable(), lines
    assert lines[0].startswith(f"GET {shown} 401 "), lines
