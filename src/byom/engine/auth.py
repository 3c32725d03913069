"""ASGI middleware: the access log, Bearer-key auth, and a Together-shaped 500 for anything unexpected."""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byom.engine.http import error_response
from byom.errors import EngineError, Unauthorized

__all__ = [
    "PUBLIC_PATHS",
    "AccessLogMiddleware",
    "AuthMiddleware",
    "UnexpectedErrorMiddleware",
    "loggable",
]

log = logging.getLogger("byom.engine")
access_log = logging.getLogger("byom.engine.access")

# Unauthenticated: liveness, and the presigned upload PUT (the SDK sends it without any
# header; the one-time token in its query authorises it — ref together-api-2026-11 §1.2).
PUBLIC_PATHS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GET", re.compile(r"^/health$")),
    ("PUT", re.compile(r"^/v1/files/[A-Za-z0-9._-]+/upload$")),
)


def loggable(text: str) -> str:
    """``text`` as one log line can hold it: every character that is not printable (CR, LF, NUL, other controls,
    line separators, bidi overrides) and the backslash are written as Python escapes, so a client's path can
    neither forge a line of the log nor hide what it sent."""
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii") for c in text
    )


class AccessLogMiddleware:
    """One INFO line per request: method, path, status, milliseconds. Never the query string (the upload
    URL's one-time token is there) nor any header (the API key is in Authorization). The path is the client's
    (percent-decoded) text, so it is escaped (``loggable``): one request, one line, always.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | str = "-"  # the client went away before any response

        async def status_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, status_send)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            access_log.info(
                "%s %s %s %.0fms", loggable(scope["method"]), loggable(scope["path"]), status, elapsed_ms
            )


class AuthMiddleware:
    def __init__(self, app: ASGIApp, api_key_getter) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self._api_key = api_key_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_public(scope):
            await self.app(scope, receive, send)
            return
        expected: str = self._api_key(scope)
        # Compared as bytes: a header is any bytes a client sends (b"Bearer \xff\xfe" too), and
        # compare_digest refuses str with non-ASCII characters.
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        token = token.strip()
        if (
            scheme.lower() != b"bearer"
            or not token
            or not secrets.compare_digest(token, expected.encode("utf-8"))
        ):
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
            log.exception("unexpected error on %s %s", loggable(scope["method"]), loggable(scope["path"]))
            if started:
                raise
            response = error_response(
                EngineError(
                    "Internal error in the local engine. See the engine's log; retry, or report it.",
                    type="server_error",
                )
            )
            await response(scope, receive, send)
