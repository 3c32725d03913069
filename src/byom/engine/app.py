"""The engine's Starlette app: routes, middleware, error handlers and lifespan, declared."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from byom.engine import _download, deploy, files, finetunes, meta, models_api, serving
from byom.engine._auth import AuthMiddleware, UnexpectedErrorMiddleware
from byom.engine._http import APIError, api_error_handler, error_response
from byom.engine.state import EngineState

__all__ = ["create_app"]

log = logging.getLogger("byom.engine")


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err = APIError(
            404, f"No such endpoint: {request.method} {request.url.path}. Check the path and /v1 prefix."
        )
    elif exc.status_code == 405:
        err = APIError(
            405,
            f"Method {request.method} is not allowed on {request.url.path}.",
            type="invalid_request_error",
        )
    else:
        err = APIError(exc.status_code, str(exc.detail))
    response = error_response(err)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def create_app(state: EngineState) -> Starlette:
    """Build the engine app around an opened ``EngineState``; the lifespan runs its job runner."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        files.resume_pending_validation(state)
        if state.runner is not None:
            state.runner.start()
        deploy.startup(state)  # re-provisions deployments that were running
        try:
            yield
        finally:
            deploy.shutdown(state)
            if state.runner is not None:
                state.runner.stop()

    routes: list[BaseRoute] = [
        *meta.routes,
        *files.routes,
        *finetunes.routes,
        *_download.routes,
        # Model registry and deployment (v2, project-scoped), then inference.
        *models_api.routes,
        *deploy.routes,
        *serving.routes,
    ]
    middleware = [
        Middleware(UnexpectedErrorMiddleware),
        Middleware(AuthMiddleware, api_key_getter=lambda scope: state.api_key),
    ]
    exception_handlers = {
        APIError: api_error_handler,
        HTTPException: _http_exception,
    }
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers=exception_handlers, lifespan=lifespan
    )
    app.state.engine = state
    return app
