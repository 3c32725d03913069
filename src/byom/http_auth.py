"""Who may reach ``byom mcp --http``: the bearer token, always (loopback too), and an exact Host/Origin list.

Loopback is not a one-user boundary: any local OS user can connect to 127.0.0.1. So, as Jupyter does, the
server requires a token everywhere: ``BYOM_MCP_TOKEN`` when set, else one generated on first start into
``<data dir>/mcp_token`` (0600), whose path (never its value) is logged and shown by ``byom doctor``.
``--no-auth`` turns it off, on loopback only. A browser page could also reach a loopback server through
DNS rebinding: the Host/Origin allow-list (the SDK's ``TransportSecuritySettings``) refuses that.

    request ─► BearerGate ─┬─ a token in the query string          → 400 (tokens belong in a header)
                           ├─ no or wrong `Authorization: Bearer`  → 401 saying where the token is
                           └─ the SDK's app: Host/Origin, exact host:port (421 / 403) → MCP
    every request          ─► one access-log line: method, path without its query string, status
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byom.config import Settings, is_loopback
from byom.errors import ConfigError
from byom.storage import private_secret

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.applications import Starlette

__all__ = ["BearerGate", "HttpAuth", "http_app", "http_security", "resolve_auth"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# Query parameters clients (and Jupyter-style URLs) use for credentials: refused, whatever their value.
_TOKEN_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "auth", "authorization", "bearer"}
)

access_log = logging.getLogger("byom.http.access")


@dataclass(frozen=True)
class HttpAuth:
    """The token every request must carry (None: ``--no-auth``), and where the user finds it."""

    token: SecretStr | None
    source: str  # "BYOM_MCP_TOKEN", or the token file's path; "" when there is no token

    @property
    def where(self) -> str:
        """Where the token is, in words, for the start-up log and a refused client (never the value)."""
        if self.source == "BYOM_MCP_TOKEN":
            return "the BYOM_MCP_TOKEN this server was started with"
        return f"the file {self.source} (readable by the user who runs byom only)"


def resolve_auth(host: str, settings: Settings, *, no_auth: bool = False) -> HttpAuth:
    """The token for serving on ``host``: ``BYOM_MCP_TOKEN``, else the stored one (generated on first start).

    Raises:
        ConfigError: ``no_auth`` on a non-loopback ``host``, or an empty token file.
    """
    if no_auth:
        if not is_loopback(host):
            raise ConfigError(
                f"--no-auth is refused on {host}: anyone who can reach it could run the tools. It is allowed on "
                "127.0.0.1 only; elsewhere clients send the token ('Authorization: Bearer <token>')."
            )
        return HttpAuth(token=None, source="")
    if settings.mcp_token is not None:
        return HttpAuth(token=settings.mcp_token, source="BYOM_MCP_TOKEN")
    path = settings.mcp_token_path
    return HttpAuth(token=SecretStr(private_secret(path)), source=str(path))


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_unspecified
    except ValueError:
        return False


def _has_port(name: str) -> bool:
    return name.rpartition(":")[2].isdigit() and not name.endswith("]")


def http_security(
    host: str, port: int, settings: Settings, allowed_hosts: Sequence[str] = ()
) -> TransportSecuritySettings:
    """The Host/Origin allow-list for serving on ``host:port``; refuses an unsafe configuration.

    Loopback: only localhost, 127.0.0.1 and [::1]. Elsewhere: ``allowed_hosts`` plus
    ``settings.mcp_allowed_hosts`` (plus ``host`` itself unless it is a wildcard such as 0.0.0.0).
    Each name is accepted bare (a proxy on the default port) or with exactly ``port``; a name given with a
    port is taken as is. No ``:*`` wildcard: the SDK matches it as a prefix, so ``localhost:*`` would let
    ``Host: localhost:8376.evil.example`` through.

    Raises:
        ConfigError: a wildcard bind with no allowed host named.
    """
    if is_loopback(host):
        names = list(_LOOPBACK_NAMES)
    else:
        names = [*allowed_hosts, *settings.mcp_allowed_hosts]
        if not _is_wildcard(host):
            names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
        if not names:
            raise ConfigError(
                f"Binding {host} listens on every address, so byom cannot tell which Host header is "
                "legitimate. Name the host clients use with --allowed-host NAME (or BYOM_MCP_ALLOWED_HOSTS)."
            )
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    hosts = [h for n in names for h in ((n,) if _has_port(n) else (n, f"{n}:{port}"))]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
    )


class BearerGate:
    """ASGI middleware: the token check in front of the MCP app, and an access log that never holds a query."""

    def __init__(self, app: ASGIApp, auth: HttpAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            refusal = self._refusal(scope)
            if refusal is None:
                await self.app(scope, receive, send_noting_status)
            else:
                await _send_refusal(send_noting_status, *refusal)
        finally:
            client = scope.get("client") or ("-", 0)
            # The path alone: a query string can hold a credential. Escaped: one request, one line.
            path = str(scope.get("path", "")).encode("unicode_escape").decode("ascii")
            access_log.info('%s:%s - "%s %s" %d', client[0], client[1], scope.get("method"), path, status)

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """None when the request may go on; else the status, the OAuth-style error code and the message."""
        if self.auth.token is None:
            return None
        expected = self.auth.token.get_secret_value().encode()
        query = parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)
        if any(k.lower() in _TOKEN_PARAMS or hmac.compare_digest(v.encode(), expected) for k, v in query):
            return 400, "invalid_request", _IN_URL
        header = next((v for k, v in scope.get("headers", []) if k.lower() == b"authorization"), b"")
        scheme, _, given = header.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
            return None
        return (
            401,
            "invalid_token",
            (
                f"This byom-mcp server requires 'Authorization: Bearer <token>' and got "
                f"{'a wrong token' if header else 'no token'}. The token is {self.auth.where}; "
                "`byom doctor` prints host configs that send it."
            ),
        )


_IN_URL = (
    "A token in the URL is refused: URLs end up in logs and histories. "
    "Send it in the header instead: 'Authorization: Bearer <token>'."
)


async def _send_refusal(send: Send, status: int, error: str, description: str) -> None:
    data = json.dumps({"error": error, "error_description": description}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", f'Bearer error="{error}"'.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def http_app(
    server: MCPServer[Any],
    host: str,
    port: int,
    auth: HttpAuth,
    settings: Settings,
    allowed_hosts: Sequence[str] = (),
) -> Starlette:
    """The app ``byom mcp --http`` serves: the MCP server's streamable HTTP app behind ``BearerGate``."""
    app = server.streamable_http_app(
        transport_security=http_security(host, port, settings, allowed_hosts), host=host
    )
    app.add_middleware(BearerGate, auth=auth)
    return app
