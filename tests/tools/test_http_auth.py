"""`byom mcp --http` requires its bearer token everywhere, loopback too (#14); Host/Origin are exact (#9, #14).

The app under test is the one `byom mcp --http` serves: `http_app(build_server(settings), ...)`, driven in
process over httpx2's ASGI transport (no socket, no waiting). Loopback is not a one-user boundary: a client
as another OS user is simply a client without the token (it cannot read the 0600 file), so that is the case
tested here.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import pytest

from byom.cli import main
from byom.config import Settings, is_loopback, load_settings
from byom.errors import ConfigError
from byom.http_auth import HttpAuth, http_app, resolve_auth
from byom.server import build_server

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token-for-tests-0123456789"
PORT = 8376
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


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"BYOM_DATA_DIR": str(tmp_path / "byom"), **env})


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@asynccontextmanager
async def _serving(
    host: str, settings: Settings, allowed: tuple[str, ...] = (), *, auth: HttpAuth | None = None
) -> AsyncIterator[httpx2.AsyncClient]:
    auth = auth or resolve_auth(host, settings)
    app = http_app(build_server(settings), host, PORT, auth, settings, allowed)
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url=f"http://{host}:{PORT}") as client:
            yield client


def test_loopback_detection() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "mcp.example.test"))


# ---- the token: generated once, 0600, its path shown and its value never --------------------------------


def test_a_token_is_generated_on_first_start_into_a_private_file_and_kept(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = resolve_auth("127.0.0.1", settings)
    path = settings.mcp_token_path
    assert first.token is not None and first.source == str(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    value = first.token.get_secret_value()
    assert len(value) >= 40 and path.read_text().strip() == value  # secrets.token_urlsafe(32)
    assert resolve_auth("127.0.0.1", settings).token == first.token  # the second start reuses it
    assert str(path) in first.where and value not in first.where


def test_a_token_file_others_could_read_is_made_private_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.mcp_token_path.parent.mkdir(parents=True)
    settings.mcp_token_path.write_text(TOKEN + "\n")
    settings.mcp_token_path.chmod(0o644)
    auth = resolve_auth("127.0.0.1", settings)
    assert auth.token is not None and auth.token.get_secret_value() == TOKEN
    assert stat.S_IMODE(settings.mcp_token_path.stat().st_mode) == 0o600


def test_an_empty_token_file_is_a_clear_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.mcp_token_path.parent.mkdir(parents=True)
    settings.mcp_token_path.write_text("\n")
    with pytest.raises(ConfigError, match="is empty. Delete it"):
        resolve_auth("127.0.0.1", settings)


def test_byom_mcp_token_overrides_the_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, BYOM_MCP_TOKEN=f"  {TOKEN} ", BYOM_MCP_ALLOWED_HOSTS="a.test, b.test")
    auth = resolve_auth("0.0.0.0", settings)
    assert auth.token is not None and auth.token.get_secret_value() == TOKEN
    assert auth.source == "BYOM_MCP_TOKEN" and not settings.mcp_token_path.exists()
    assert settings.mcp_allowed_hosts == ("a.test", "b.test")
    assert (
        TOKEN not in repr(settings) and TOKEN not in repr(build_server(settings)) and TOKEN not in repr(auth)
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::"])
def test_no_auth_is_refused_off_loopback(
    host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BYOM_MCP_TOKEN", raising=False)
    with pytest.raises(SystemExit) as info:
        main(["mcp", "--http", "--host", host, "--port", "1", "--no-auth", "--allowed-host", "x.test"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert f"--no-auth is refused on {host}" in err and "127.0.0.1" in err


def test_a_wildcard_bind_still_needs_a_host_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOM_MCP_TOKEN", TOKEN)
    with pytest.raises(SystemExit) as info:
        main(["mcp", "--http", "--host", "0.0.0.0", "--port", "1"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "--allowed-host" in err and TOKEN not in err


# ---- requests ------------------------------------------------------------------------------------------


async def test_on_loopback_a_client_without_the_token_is_refused_and_told_where_it_is(tmp_path: Path) -> None:
    """Finding 4: loopback with no BYOM_MCP_TOKEN used to serve anyone (any local OS user)."""
    settings = _settings(tmp_path)
    async with _serving("127.0.0.1", settings) as client:
        token = settings.mcp_token_path.read_text().strip()
        missing = await client.post("/mcp", json=INIT, headers=ACCEPT)
        wrong = await client.post("/mcp", json=INIT, headers={**ACCEPT, **_bearer("nope")})
        basic = await client.post("/mcp", json=INIT, headers={**ACCEPT, "authorization": f"Basic {token}"})
        right = await client.post("/mcp", json=INIT, headers={**ACCEPT, **_bearer(token)})
    for refused in (missing, wrong, basic):
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        message = refused.json()["error_description"]
        assert str(settings.mcp_token_path) in message and "Authorization: Bearer" in message
        assert token not in refused.text
    assert right.status_code == 200, right.text
    assert "byom-mcp" in right.text  # the initialize result names the server


async def test_byom_mcp_token_is_the_one_required(tmp_path: Path) -> None:
    settings = _settings(tmp_path, BYOM_MCP_TOKEN=TOKEN)
    async with _serving("0.0.0.0", settings, ("mcp.example.test",)) as client:
        headers = {**ACCEPT, "host": f"mcp.example.test:{PORT}"}
        missing = await client.post("/mcp", json=INIT, headers=headers)
        right = await client.post("/mcp", json=INIT, headers={**headers, **_bearer(TOKEN)})
    assert missing.status_code == 401 and "BYOM_MCP_TOKEN" in missing.json()["error_description"]
    assert TOKEN not in missing.text
    assert right.status_code == 200, right.text


async def test_with_no_auth_loopback_serves_without_a_token(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    auth = resolve_auth("127.0.0.1", settings, no_auth=True)
    async with _serving("127.0.0.1", settings, auth=auth) as client:
        ok = await client.post("/mcp", json=INIT, headers=ACCEPT)
    assert ok.status_code == 200, ok.text
    assert not settings.mcp_token_path.exists()


@pytest.mark.parametrize("query", ["token={token}", "access_token={token}", "x=1&t={token}", "token=guess"])
async def test_a_token_in_the_query_string_is_refused_and_no_url_is_logged(
    tmp_path: Path, query: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Findings 4 and 18: tokens only in the header; the access log holds paths, never query strings."""
    settings = _settings(tmp_path)
    caplog.set_level(logging.INFO, logger="byom.http.access")
    async with _serving("127.0.0.1", settings) as client:
        token = settings.mcp_token_path.read_text().strip()
        in_url = await client.post(f"/mcp?{query.format(token=token)}", json=INIT, headers=ACCEPT)
        both = await client.post(
            f"/mcp?{query.format(token=token)}", json=INIT, headers={**ACCEPT, **_bearer(token)}
        )
        fine = await client.post("/mcp?client=ok", json=INIT, headers={**ACCEPT, **_bearer(token)})
    assert in_url.status_code == both.status_code == 400, in_url.text
    assert "Authorization: Bearer" in in_url.json()["error_description"] and token not in in_url.text
    assert fine.status_code == 200, fine.text
    lines = [r.getMessage() for r in caplog.records if r.name == "byom.http.access"]
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["400", "400", "200"]
    assert all('"POST /mcp"' in line for line in lines), lines
    assert token not in caplog.text and "?" not in "".join(lines) and "guess" not in caplog.text


async def test_the_access_log_escapes_line_breaks_in_the_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="byom.http.access")
    async with _serving("127.0.0.1", _settings(tmp_path)) as client:
        await client.get("/mcp%0d%0aFORGED%00line", headers=ACCEPT)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "byom.http.access"]
    assert "\n" not in line and "\r" not in line and "\x00" not in line and "FORGED" in line


# ---- Host and Origin -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "env", "allowed", "good_host"),
    [
        ("127.0.0.1", {}, (), f"localhost:{PORT}"),
        ("0.0.0.0", {"BYOM_MCP_TOKEN": TOKEN}, ("mcp.example.test",), f"mcp.example.test:{PORT}"),
        ("192.168.1.5", {"BYOM_MCP_TOKEN": TOKEN}, (), f"192.168.1.5:{PORT}"),
    ],
)
async def test_a_foreign_host_header_is_rejected(
    tmp_path: Path, host: str, env: dict[str, str], allowed: tuple[str, ...], good_host: str
) -> None:
    settings = _settings(tmp_path, **env)
    async with _serving(host, settings, allowed) as client:
        auth = _bearer(resolve_auth(host, settings).token.get_secret_value())  # type: ignore[union-attr]
        foreign = await client.post(
            "/mcp", json=INIT, headers={**ACCEPT, **auth, "host": f"evil.example:{PORT}"}
        )
        # Finding 19: the SDK's `localhost:*` matched any Host that starts with "localhost:".
        suffixed = await client.post(
            "/mcp", json=INIT, headers={**ACCEPT, **auth, "host": f"{good_host}.evil.example"}
        )
        other_port = await client.post(
            "/mcp", json=INIT, headers={**ACCEPT, **auth, "host": good_host.replace(str(PORT), "1")}
        )
        origin = await client.post(
            "/mcp", json=INIT, headers={**ACCEPT, **auth, "host": good_host, "origin": "http://evil.example"}
        )
        good = await client.post("/mcp", json=INIT, headers={**ACCEPT, **auth, "host": good_host})
        same_origin = await client.post(
            "/mcp", json=INIT, headers={**ACCEPT, **auth, "host": good_host, "origin": f"http://{good_host}"}
        )
    for refused in (foreign, suffixed, other_port):
        assert refused.status_code in (400, 421), refused.text
    assert origin.status_code == 403, origin.text
    assert good.status_code == 200, good.text
    assert same_origin.status_code == 200, same_origin.text


# ---- the command ---------------------------------------------------------------------------------------


def test_the_start_up_log_names_the_token_file_never_the_token(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    seen: dict[str, object] = {}
    # The boundary: uvicorn.run would bind a socket; record what the CLI asks of it instead.
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.delenv("BYOM_MCP_TOKEN", raising=False)
    # The default level, as without -v; restore byom's logger level afterwards.
    monkeypatch.setattr(logging.getLogger(), "level", logging.WARNING)
    monkeypatch.setattr(logging.getLogger("byom"), "level", logging.NOTSET)
    caplog.handler.setLevel(logging.NOTSET)
    main(["mcp", "--http", "--port", "8399"])
    settings = load_settings()
    token = settings.mcp_token_path.read_text().strip()
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any("http://127.0.0.1:8399/mcp" in m for m in messages), messages
    assert any(str(settings.mcp_token_path) in m for m in messages), messages
    assert token not in caplog.text and token not in "".join(capsys.readouterr())
    assert stat.S_IMODE(os.stat(settings.mcp_token_path).st_mode) == 0o600
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8399
    assert seen["access_log"] is False  # uvicorn's log prints whole URLs: BearerGate logs paths instead


def test_no_auth_on_loopback_is_loud(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    caplog.handler.setLevel(logging.NOTSET)
    main(["mcp", "--http", "--port", "8399", "--no-auth"])
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING and "--no-auth" in r.getMessage()]
    assert "Every user and process on this machine" in warning.getMessage()
    assert not load_settings().mcp_token_path.exists()
