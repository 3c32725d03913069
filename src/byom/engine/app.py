"""The engine's Starlette app: routes, middleware, error handlers and lifespan, declared."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from byom.engine import files, identity, templates
from byom.engine.auth import AccessLogMiddleware, AuthMiddleware, UnexpectedErrorMiddleware, loggable
from byom.engine.deploy import adapters, deployments, endpoints, inference, models
from byom.engine.disk import storage_error
from byom.engine.evals import routes as evals
from byom.engine.finetunes import download
from byom.engine.finetunes import routes as finetunes
from byom.engine.http import engine_error_handler, error_for_status, error_response
from byom.engine.state import EngineState, engine_of
from byom.errors import EngineError, MethodNotAllowed, NotFound

__all__ = ["create_app"]

log = logging.getLogger("byom.engine")


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    err: EngineError
    if exc.status_code == 404:
        err = NotFound(
            f"No such endpoint: {request.method} {request.url.path}. Check the path and /v1 prefix."
        )
    elif exc.status_code == 405:
        err = MethodNotAllowed(
            f"Method {request.method} is not allowed on {request.url.path}.",
            type="invalid_request_error",
        )
    else:
        err = error_for_status(exc.status_code, str(exc.detail))
    response = error_response(err)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _storage_error(request: Request, exc: Exception) -> Response:
    """A write the disk refused (full, not writable) is a 507 that names the place and the fix; any other
    ``OSError`` or database error goes on to the last-resort 500 (``auth.UnexpectedErrorMiddleware``)."""
    err = storage_error(exc, engine_of(request).data_dir)
    if err is None:
        raise exc
    log.error("%s %s: %s", request.method, loggable(request.url.path), err.message)
    return error_response(err)


def create_app(state: EngineState) -> Starlette:
    """Build the engine app around an opened ``EngineState``; its lifespan runs the job runner, the deploy runtime
    and the evaluation runner."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        files.resume_pending_validation(state)
        state.runner.start()
        state.deploy.start()  # re-provisions deployments that were running
        state.evals.start()  # ends, with the reason, an evaluation that was running
        try:
            yield
        finally:
            state.evals.stop()
            state.deploy.close()
            state.runner.stop()

    routes: list[BaseRoute] = [
        *identity.routes,
        *templates.routes,
        *files.routes,
        *finetunes.routes,
        *download.routes,
        # Model registry and deployment (v2, project-scoped), then inference.
        *models.routes,
        *endpoints.routes,
        *deployments.routes,
        *adapters.routes,
        *inference.routes,
        *evals.routes,
    ]
    middleware = [
        Middleware(AccessLogMiddleware),  # outermost: it logs the 401s and 500s too
        Middleware(UnexpectedErrorMiddleware),
        Middleware(AuthMiddleware, api_key_getter=lambda scope: state.api_key),
    ]
    exception_handlers = {
        EngineError: engine_error_handler,
        HTTPException: _http_exception,
        OSError: _storage_error,
        sqlite3.Error: _storage_error,
    }
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers=exception_handlers, lifespan=lifespan
    )
    app.state.engine = state
    return app
