"""Who the engine is: ``GET /health`` (no key needed) and ``GET /v3/whoami`` (the one local project)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from byom.engine.http import answer
from byom.engine.state import engine_of

__all__ = ["Health", "Whoami", "routes"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Ref(_Body):
    id: str


class _Named(_Body):
    id: str
    name: str


class _Project(_Body):
    id: str
    slug: str
    name: str


class Health(_Body):
    status: Literal["ok"] = "ok"
    device: str | None  # where jobs train ("cpu", "cuda", "mps"); null while the probe still runs


class Whoami(_Body):
    """A project API key's identity (ref together-api-2026-11 §3.2): the engine's key and its one project."""

    type: Literal["project_api_key"] = "project_api_key"
    api_key: _Ref
    organization: _Named
    project: _Project


async def health(request: Request) -> JSONResponse:
    state = engine_of(request)
    return answer(Health(device=state.runner.device_label()))


async def whoami(request: Request) -> JSONResponse:
    state = engine_of(request)
    return answer(
        Whoami(
            api_key=_Ref(id="key_local"),
            organization=_Named(id="org_local", name="Local engine"),
            project=_Project.model_validate(state.project),
        )
    )


routes = [
    Route("/health", health, methods=["GET"]),
    Route("/v3/whoami", whoami, methods=["GET"]),
]
