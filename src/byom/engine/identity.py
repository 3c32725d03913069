"""Who the engine is: ``GET /health`` (no key needed) and ``GET /v3/whoami`` (the one local project)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from byom.engine.state import engine_of

__all__ = ["routes"]


async def health(request: Request) -> JSONResponse:
    state = engine_of(request)
    return JSONResponse({"status": "ok", "device": state.runner.device_label()})


async def whoami(request: Request) -> JSONResponse:
    # Shape of a project API key's identity (ref together-api-2026-11 §3.2).
    state = engine_of(request)
    return JSONResponse(
        {
            "type": "project_api_key",
            "api_key": {"id": "key_local"},
            "organization": {"id": "org_local", "name": "Local engine"},
            "project": dict(state.project),
        }
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/v3/whoami", whoami, methods=["GET"]),
]
