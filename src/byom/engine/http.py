"""HTTP plumbing of the engine's endpoints: the one error handler, JSON bodies, query integers and paging.

Domain code raises an ``EngineError`` subclass (``byom/errors.py``); ``engine_error_handler`` renders it
as Together's error body ``{"error": {"message", "type", "param", "code"}}`` with the class's status —
never a traceback, never a 500 for something the client sent.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn, TypeVar, overload

from pydantic import BaseModel, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from byom.errors import (
    Conflict,
    EngineError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    Unauthorized,
)

__all__ = [
    "MAX_JSON_BYTES",
    "answer",
    "engine_error_handler",
    "error_for_status",
    "error_response",
    "int_query",
    "omitted",
    "page",
    "parse_body",
    "parse_json",
    "validated",
    "wire",
]

M = TypeVar("M", bound=BaseModel)

# No JSON body of the API comes near this; a bigger one is refused before it is parsed.
MAX_JSON_BYTES = 16 * 1024**2

_BY_STATUS: dict[int, type[EngineError]] = {
    cls.status_code: cls
    for cls in (
        InvalidRequest,
        Unauthorized,
        PermissionDenied,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
    )
}


def error_for_status(status: int, message: str) -> EngineError:
    """The ``EngineError`` for an HTTP status that Starlette raised itself (404 route, 405 method, ...)."""
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(message)
    err = EngineError(message)
    err.status_code = status
    return err


def error_response(exc: EngineError) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {"message": exc.message, "type": exc.error_type, "param": exc.param, "code": exc.code}
    }
    if exc.extra:
        body.update(exc.extra)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def engine_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EngineError)
    return error_response(exc)


def _is_none(value: object) -> bool:
    return value is None


def omitted(**constraints: Any) -> Any:
    """A field of a declared body that is absent from the answer (not ``null``) while it is None."""
    return Field(default=None, exclude_if=_is_none, **constraints)


def wire(body: BaseModel) -> dict[str, Any]:
    """A declared body as JSON data under its wire names (aliases); what a field leaves out stays absent."""
    return body.model_dump(mode="json", by_alias=True)


def answer(body: BaseModel, status: int = 200) -> JSONResponse:
    """Send a declared response body: the one way a route answers with a model."""
    return JSONResponse(wire(body), status_code=status)


def _no_constant(name: str) -> NoReturn:
    raise InvalidRequest(f"The body contains {name}, which is not a JSON number. Send finite numbers only.")


def parse_json(raw: bytes) -> Any:
    """Parse a request body as strict JSON: finite numbers, valid UTF-8 (no lone surrogates), bounded nesting."""
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge(
            f"The JSON body is over {MAX_JSON_BYTES // 1024**2} MiB. Send a smaller request."
        )
    try:
        data = json.loads(raw or b"{}", parse_constant=_no_constant)
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidRequest("Request body is not valid JSON. Send a JSON object.") from None
    except UnicodeEncodeError:
        raise InvalidRequest(
            "The body contains a lone UTF-16 surrogate (an invalid \\ud800-\\udfff escape). Send valid Unicode text."
        ) from None
    except ValueError as exc:  # e.g. an integer of over 4300 digits
        raise InvalidRequest(f"Request body has a value Python cannot read: {str(exc)[:120]}.") from None
    except RecursionError:
        raise InvalidRequest("The JSON body nests too deeply. Flatten it.") from None
    return data


def _field_message(error: Any) -> str:
    # pydantic's message without its type tag or documentation link.
    return str(error["msg"]).removeprefix("Value error, ")


async def parse_body(request: Request, model: type[M]) -> M:
    """Parse a JSON body into ``model``; any problem is a 400 that names the field."""
    data = parse_json(await request.body())
    if not isinstance(data, dict):
        raise InvalidRequest("Request body must be a JSON object.")
    return validated(model, data)


def validated(model: type[M], data: Any, *, at: str = "") -> M:
    """``data`` as ``model``; any problem is a 400 that names the field (under ``at``, e.g. "parameters")."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        param = ".".join(str(p) for p in (*([at] if at else []), *first["loc"])) or None
        more = f" ({exc.error_count() - 1} more problem(s) after this one)" if exc.error_count() > 1 else ""
        raise InvalidRequest(
            f"Invalid value for '{param}': {_field_message(first)}{more}.", param=param
        ) from None


@overload
def int_query(request: Request, name: str, default: int, lo: int, hi: int) -> int: ...
@overload
def int_query(request: Request, name: str, default: None, lo: int, hi: int) -> int | None: ...
def int_query(request: Request, name: str, default: int | None, lo: int, hi: int) -> int | None:
    """An integer query parameter within ``lo..hi``, or ``default`` when absent; a 400 that says why otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if len(raw) <= 20 else None
    except ValueError:
        value = None
    if value is None:
        raise InvalidRequest(f"Query parameter '{name}' must be an integer, got {raw[:40]!r}.", param=name)
    if not lo <= value <= hi:
        raise InvalidRequest(
            f"Query parameter '{name}' must be between {lo} and {hi}, got {value}.", param=name
        )
    return value


def page(
    items: list[dict[str, Any]],
    request: Request,
    *,
    default_limit: int = 50,
    max_limit: int = 500,
    list_object: bool = True,
) -> JSONResponse:
    """Cursor paging as the SDK walks it: ``after=<next_cursor>`` until ``next_cursor`` is null (ref §5.8).

    The cursor is the last item's ``id``; ``list_object`` adds ``"object": "list"`` (v2 project lists have it,
    ``/v2/supported-models`` does not).
    """
    limit = int_query(request, "limit", default_limit, 1, max_limit)
    after = request.query_params.get("after")
    start = 0
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise InvalidRequest(
                f"Unknown cursor 'after={after[:80]}'. Start again without 'after'.", param="after"
            )
        start = ids.index(after) + 1
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    body: dict[str, Any] = {"object": "list"} if list_object else {}
    body.update(data=chunk, next_cursor=chunk[-1]["id"] if more and chunk else None)
    return JSONResponse(body)
