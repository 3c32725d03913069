"""ASGI middleware: Bearer-key auth, and a Together-shaped 500 for anything unexpected."""

from __future__ import annotations

import logging
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byom.engine.http import error_response
from byom.errors import EngineError, Unauthorized

__all__ = ["PUBLIC_PATHS", "AuthMiddleware", "UnexpectedErrorMiddleware"]

log = logging.getLogger("byom.engine")

# Unauthenticated: liveness, and the presigned upload PUT (the SDK sends it without any
# header; the one-time token in its query authorises it — ref together-api-2026-11 §1.2).
PUBLIC_PATHS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GET", re.compile(r"^/health$")),
    ("PUT", re.compile(r"^/v1/files/[A-Za-z0-9._-]+/upload$")),
)


class AuthMiddleware:
    def __init__(self, app: ASGIApp, api_key_getter) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self._api_key = api_key_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_public(scope):
            await self.app(scope, receive, send)
            return
        expected = self._api_key(scope)
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or not secrets.compare_digest(token.strip(), expected):
            message = (
                "Missing API key. Send 'Authorization: Bearer <key>' (the engine's key is in its data dir, file api_key)."
                if not header
                else "Invalid API key. Use the key the engine printed the path of at start (file api_key in its data dir)."
            )
            response = error_response(Unauthorized(message, code="invalid_api_key"))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_public(scope: Scope) -> bool:
    method, path = scope["method"], scope["path"]
    return any(method == m and pattern.match(path) for m, pattern in PUBLIC_PATHS)


class UnexpectedErrorMiddleware:
    """Turn an unhandled exception into a Together-shaped 500: logged here, no traceback to the client."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if started:
                raise
            response = error_response(
                EngineError(
                    "Internal error in the local engine. See the engine's log; retry, or report it.",
                    type="server_error",
                )
            )
            await response(scope, receive, send)
