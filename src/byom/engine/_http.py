"""Together-shaped HTTP errors and request parsing for the engine's endpoints.

Endpoints raise ``APIError``; the app's exception handlers render every failure as
``{"error": {"message", "type", "param", "code"}}`` with the right status — never a
traceback, never a 500 for something the client sent.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = ["APIError", "api_error_handler", "error_response", "parse_body"]

M = TypeVar("M", bound=BaseModel)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _TYPES.get(status, "server_error")
        self.param = param
        self.code = code
        self.headers = headers
        self.extra = extra


def error_response(exc: APIError) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {"message": exc.message, "type": exc.type, "param": exc.param, "code": exc.code}
    }
    if exc.extra:
        body.update(exc.extra)
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return error_response(exc)


async def parse_body(request: Request, model: type[M]) -> M:
    """Parse a JSON body into ``model``; any problem is a 400 that names the field."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise APIError(400, "Request body is not valid JSON. Send a JSON object.") from None
    if not isinstance(data, dict):
        raise APIError(400, "Request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise APIError(400, f"Invalid value for '{param}': {first['msg']}.", param=param) from None
