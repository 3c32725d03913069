"""`byom mcp --http` off loopback needs BYOM_MCP_TOKEN; Host/Origin are checked everywhere (#9).

The app under test is the one `byom mcp --http` serves: `build_server(settings)` with
`http_security(host, settings, allowed)` as its transport security, driven in process over
httpx2's ASGI transport (no socket, no waiting).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx2
import pytest
from starlette.applications import Starlette

from byom.cli import main
from byom.config import Settings, is_loopback, load_settings
from byom.http_auth import http_security
from byom.server import build_server

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token-for-tests-0123456789"
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def _settings(**env: str) -> Settings:
    return load_settings(env)


@asynccontextmanager
async def _serving(
    host: str, settings: Settings, allowed: tuple[str, ...] = ()
) -> AsyncIterator[httpx2.AsyncClient]:
    app: Starlette = build_server(settings).streamable_http_app(
        transport_security=http_security(host, settings, allowed), host=host
    )
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=f"http://{host}:8376") as client:
            yield client


Serving = Callable[..., AbstractAsyncContextManager[httpx2.AsyncClient]]


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "mcp.example.test"))


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_cli_refuses_a_non_loopback_bind_without_a_token(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BYOM_MCP_TOKEN", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["mcp", "--http", "--host", host, "--port", "1"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert f"Refusing to serve MCP over HTTP on {host}" in err and "BYOM_MCP_TOKEN" in err


def test_a_wildcard_bind_with_a_token_still_needs_a_host_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOM_MCP_TOKEN", TOKEN)
    with pytest.raises(SystemExit) as info:
        main(["mcp", "--http", "--host", "0.0.0.0", "--port", "1"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "--allowed-host" in err and TOKEN not in err


def test_the_token_is_read_once_and_never_shown() -> None:
    settings = _settings(BYOM_MCP_TOKEN=f"  {TOKEN} ", BYOM_MCP_ALLOWED_HOSTS="a.test, b.test")
    assert settings.mcp_token is not None and settings.mcp_token.get_secret_value() == TOKEN
    assert settings.mcp_allowed_hosts == ("a.test", "b.test")
    assert TOKEN not in repr(settings) and TOKEN not in repr(build_server(settings))


async def test_with_a_token_requests_need_the_bearer_header() -> None:
    settings = _settings(BYOM_MCP_TOKEN=TOKEN)
    async with _serving("0.0.0.0", settings, ("mcp.example.test",)) as client:
        headers = {**ACCEPT, "host": "mcp.example.test:8376"}
        missing = await client.post("/mcp", json=INIT, headers=headers)
        wrong = await client.post("/mcp", json=INIT, headers={**headers, "authorization": "Bearer nope"})
        right = await client.post("/mcp", json=INIT, headers={**headers, "authorization": f"Bearer {TOKEN}"})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert TOKEN not in wrong.text
    assert right.status_code == 200, right.text
    assert "byom-mcp" in right.text  # the initialize result names the server


async def test_a_token_on_loopback_is_required_too() -> None:
    async with _serving("127.0.0.1", _settings(BYOM_MCP_TOKEN=TOKEN)) as client:
        assert (await client.post("/mcp", json=INIT, headers=ACCEPT)).status_code == 401
        ok = await client.post("/mcp", json=INIT, headers={**ACCEPT, "authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("host", "env", "allowed", "good_host"),
    [
        ("127.0.0.1", {}, (), "localhost:8376"),
        ("0.0.0.0", {"BYOM_MCP_TOKEN": TOKEN}, ("mcp.example.test",), "mcp.example.test:8376"),
        ("192.168.1.5", {"BYOM_MCP_TOKEN": TOKEN}, (), "192.168.1.5:8376"),
    ],
)
async def test_a_foreign_host_header_is_rejected(
    host: str, env: dict[str, str], allowed: tuple[str, ...], good_host: str
) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"} if env else {}
    async with _serving(host, _settings(**env), allowed) as client:
        foreign = await client.post(
            "/mcp", json=INIT, headers={**ACCEPT, **auth, "host": "evil.example:8376"}
        )
        origin = await client.post(
            "/mcp", json=INIT, headers={**ACCEPT, **auth, "host": good_host, "origin": "http://evil.example"}
        )
        good = await client.post("/mcp", json=INIT, headers={**ACCEPT, **auth, "host": good_host})
    assert foreign.status_code in (400, 421), foreign.text
    assert origin.status_code == 403, origin.text
    assert good.status_code == 200, good.text


def test_http_url_is_logged_at_info(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mcp.server.mcpserver import MCPServer

    seen: dict[str, object] = {}
    # The boundary: MCPServer.run would bind a socket; record what the CLI asks of it instead.
    monkeypatch.setattr(
        MCPServer, "run", lambda self, transport="stdio", **kw: seen.update(transport=transport, **kw)
    )
    # The default level, as without -v; restore byom's logger level afterwards.
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)
    monkeypatch.setattr(logging.getLogger("byom"), "level", logging.NOTSET)
    caplog.handler.setLevel(logging.NOTSET)
    main(["mcp", "--http", "--port", "8399"])
    (record,) = [r for r in caplog.records if "streamable HTTP" in r.getMessage()]
    assert record.levelno == logging.INFO and "http://127.0.0.1:8399/mcp" in record.getMessage()
    assert seen["transport"] == "streamable-http" and seen["host"] == "127.0.0.1"
    security = seen["transport_security"]
    assert "evil.example:*" not in security.allowed_hosts and "localhost:*" in security.allowed_hosts  # type: ignore[attr-defined]
