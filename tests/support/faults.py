"""Faults on the wire between byom-mcp and the engine: a transport that wraps the engine's ``ASGITransport``.

Only the network boundary is faked. Each matching request either gets a scripted fault or goes to the real
engine; every request is recorded (method, path, body), so a test counts attempts instead of timing them.

    faults = FaultTransport(httpx2.ASGITransport(app=create_app(state)))
    faults.inject("GET", f"/v1/fine-tunes/{job_id}", answer(500), answer(503))   # the next two GETs
    faults.inject("POST", "/v1/fine-tunes", lose_answer(httpx2.ReadError))        # created, answer lost
    faults.inject("GET", path, answer(500), forever=True)                          # every one from now on
    faults.inject("POST", f"{P}/endpoints/*/deployments", answer(500))            # ``*``: an id not known yet
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import httpx2

from byom.engine.app import create_app
from byom.engine.state import EngineState
from support.engine import KEY, make_state

__all__ = [
    "Fault",
    "FaultTransport",
    "HostRoutes",
    "Sent",
    "answer",
    "engine_files",
    "engine_jobs",
    "fail_unsent",
    "lose_answer",
    "queued_engine",
    "respond",
    "rewrite_json",
]

# A fault gets the request and the real transport; it answers, raises, or delegates and then meddles.
Fault = Callable[[httpx2.Request, httpx2.AsyncBaseTransport], Awaitable[httpx2.Response]]


def answer(status: int, *, headers: dict[str, str] | None = None, message: str = "injected fault") -> Fault:
    """Answer ``status`` with Together's error body; the engine never sees the request."""

    async def fault(request: httpx2.Request, inner: httpx2.AsyncBaseTransport) -> httpx2.Response:
        body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
        return httpx2.Response(status, headers=headers, json=body, request=request)

    return fault


def respond(body: Any, status: int = 200) -> Fault:
    """Answer ``body`` as JSON: Together's answer to a route the engine standing in for it does not serve (its
    price list, its evaluation model list); the engine never sees the request."""

    async def fault(request: httpx2.Request, inner: httpx2.AsyncBaseTransport) -> httpx2.Response:
        return httpx2.Response(status, json=body, request=request)

    return fault


def fail_unsent(exc_type: type[httpx2.TransportError]) -> Fault:
    """Raise before delegating: the request never reached the engine (a refused connection)."""

    async def fault(request: httpx2.Request, inner: httpx2.AsyncBaseTransport) -> httpx2.Response:
        raise exc_type("injected before sending", request=request)

    return fault


def lose_answer(exc_type: type[httpx2.TransportError]) -> Fault:
    """Delegate, then raise: the engine carried the request out, and its answer is lost (a reset, a timeout)."""

    async def fault(request: httpx2.Request, inner: httpx2.AsyncBaseTransport) -> httpx2.Response:
        response = await inner.handle_async_request(request)
        await response.aread()
        await response.aclose()
        raise exc_type("injected after the engine answered", request=request)

    return fault


def rewrite_json(change: Callable[[dict[str, Any]], dict[str, Any]]) -> Fault:
    """Delegate, then hand back ``change(body)`` in place of the engine's JSON answer."""

    async def fault(request: httpx2.Request, inner: httpx2.AsyncBaseTransport) -> httpx2.Response:
        response = await inner.handle_async_request(request)
        body = json.loads(await response.aread())
        await response.aclose()
        return httpx2.Response(response.status_code, json=change(body), request=request)

    return fault


@dataclass(frozen=True)
class Sent:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Script:
    method: str
    path: str
    faults: list[Fault]
    forever: bool


@dataclass
class FaultTransport(httpx2.AsyncBaseTransport):
    """The engine's transport with scripted faults in front of it; ``sent`` records every request."""

    inner: httpx2.AsyncBaseTransport
    sent: list[Sent] = field(default_factory=list)
    _scripts: list[_Script] = field(default_factory=list)

    def inject(self, method: str, path: str, *faults: Fault, forever: bool = False) -> None:
        """The next matching requests get ``faults`` in order (with ``forever``, the last one keeps on).

        ``path`` is a glob: ``*`` stands for an id the engine has not made yet (it matches ``/`` too)."""
        self._scripts.append(_Script(method.upper(), path, list(faults), forever))

    def clear(self) -> None:
        self._scripts.clear()

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.sent if s.method == method.upper() and s.path == path)

    def bodies(self, method: str, path: str) -> list[bytes]:
        return [s.body for s in self.sent if s.method == method.upper() and s.path == path]

    def _next_fault(self, request: httpx2.Request) -> Fault | None:
        for script in self._scripts:
            if (
                script.method == request.method
                and fnmatchcase(request.url.path, script.path)
                and script.faults
            ):
                if script.forever and len(script.faults) == 1:
                    return script.faults[0]
                return script.faults.pop(0)
        return None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        self.sent.append(Sent(request.method, request.url.path, dict(request.headers), body))
        fault = self._next_fault(request)
        if fault is None:
            return await self.inner.handle_async_request(request)
        return await fault(request, self.inner)

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextmanager
def queued_engine(
    root: Path, *allowed: Path, api_key: str = KEY
) -> Iterator[tuple[FaultTransport, EngineState]]:
    """The real engine app with its job runner NOT started, behind a ``FaultTransport``: created jobs stay
    ``queued`` (cancellable at any time, and no trainer competes for the CPU)."""
    state = make_state(root, *allowed, api_key=api_key)
    try:
        yield FaultTransport(httpx2.ASGITransport(app=create_app(state))), state
    finally:
        state.close()


def engine_jobs(state: EngineState) -> list[str]:
    """The ids of every job the engine holds, read from its database (no HTTP, no byom client)."""
    return [row["id"] for row in state.db.query("SELECT id FROM jobs ORDER BY queue_seq")]


def engine_files(state: EngineState) -> list[str]:
    """The ids of every file uploaded to the engine, read from its database: what left the MCP server."""
    return [row["id"] for row in state.db.query("SELECT id FROM files ORDER BY created_at, id")]


@dataclass
class HostRoutes(httpx2.AsyncBaseTransport):
    """One wire, two servers: each request goes to the transport of its URL's host (e.g. a second engine standing
    in for Together beside the local one), so the MCP server's one transport reaches both."""

    routes: dict[str, httpx2.AsyncBaseTransport]

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self.routes[request.url.host].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self.routes.values():
            await transport.aclose()
