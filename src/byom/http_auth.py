"""Who may reach ``byom mcp --http``: a bearer token off loopback, and a Host/Origin allow-list always.

Streamable HTTP on a non-loopback address with no token would let anyone on the network drive the
tools; a browser page could also reach a loopback server through DNS rebinding, which the
Host/Origin check (the SDK's ``TransportSecuritySettings``) refuses.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr

from byom.config import Settings, is_loopback
from byom.errors import ConfigError

__all__ = ["StaticTokenVerifier", "auth_settings", "http_security"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_unspecified
    except ValueError:
        return False


class StaticTokenVerifier:
    """The SDK's ``TokenVerifier`` for one shared secret (``BYOM_MCP_TOKEN``), compared in constant time."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "StaticTokenVerifier(token=**********)"

    async def verify_token(self, token: str) -> AccessToken | None:
        expected = self._token.get_secret_value().encode()
        if not hmac.compare_digest(token.encode(), expected):
            return None
        return AccessToken(token=token, client_id="byom-mcp", scopes=[])


def auth_settings() -> AuthSettings:
    """The SDK's auth settings for a plain bearer token: no OAuth server, no resource metadata."""
    # issuer_url is required by AuthSettings but only used by OAuth routes, which byom does not serve.
    return AuthSettings(issuer_url="http://localhost", resource_server_url=None)


def http_security(
    host: str, settings: Settings, allowed_hosts: Sequence[str] = ()
) -> TransportSecuritySettings:
    """The Host/Origin allow-list for serving on ``host``; refuses an unsafe configuration.

    Loopback: only localhost, 127.0.0.1 and [::1]. Elsewhere: a token is required, and the allowed
    hosts are ``allowed_hosts`` plus ``settings.mcp_allowed_hosts`` (plus ``host`` itself unless it
    is a wildcard such as 0.0.0.0).

    Raises:
        ConfigError: a non-loopback ``host`` without ``BYOM_MCP_TOKEN``, or a wildcard bind with no
            allowed host named.
    """
    if is_loopback(host):
        names = list(_LOOPBACK_NAMES)
    else:
        if settings.mcp_token is None:
            raise ConfigError(
                f"Refusing to serve MCP over HTTP on {host} without authentication: anyone who can reach "
                "it could run the tools. Set BYOM_MCP_TOKEN to a long random secret (clients then send "
                "'Authorization: Bearer <token>'), or bind 127.0.0.1."
            )
        names = [*allowed_hosts, *settings.mcp_allowed_hosts]
        if not _is_wildcard(host):
            names.append(host)
        if not names:
            raise ConfigError(
                f"Binding {host} listens on every address, so byom cannot tell which Host header is "
                "legitimate. Name the host clients use with --allowed-host NAME (or BYOM_MCP_ALLOWED_HOSTS)."
            )
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[h for n in names for h in (n, f"{n}:*")],
        allowed_origins=[
            o for n in names for o in (f"http://{n}", f"http://{n}:*", f"https://{n}", f"https://{n}:*")
        ],
    )
