"""Translate Together's error answers into ``TogetherAPIError``, at one seam.

    httpx2 transport error  ──►  TogetherAPIError(status_code=None)   "could not reach …"
    non-2xx response        ──►  TogetherAPIError(status_code=N, code=…, request_id=…)

Bodies come as ``{"error": {"message", "type", "param", "code"}}`` (spec ``ErrorData``) or, for a
404 from ``/fine-tunes/models/limits``, ``{"message": …}``. Each message ends with the next step and
never contains the API key.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx2

from byom.config import is_loopback
from byom.errors import QueueFull, TogetherAPIError
from byom.untrusted import ERROR_BODY_CHARS, NAME_CHARS, quote

__all__ = ["error_from_response", "error_from_transport"]


def _server_message(response: httpx2.Response) -> tuple[str, str | None, str | None]:
    """(message, code, param) from a Together error body, unclipped; tolerant of any shape."""
    body: Any
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return (text or response.reason_phrase), None, None
    code = param = None
    message: Any = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message, code, param = err.get("message"), err.get("code"), err.get("param")
        elif isinstance(err, str):
            message = err
        if message is None:
            message = body.get("message") or body.get("detail")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or "no message"
    return (
        message,
        code if isinstance(code, str) else None,
        param if isinstance(param, str) else None,
    )


def _wait_text(seconds: float) -> str:
    """A server's Retry-After as a person reads it (a far HTTP date is not "2.3e9 s")."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return "more than two days (the server's Retry-After); check your account's rate limits"


def retry_after_seconds(response: httpx2.Response) -> float | None:
    """The server's requested wait (``retry-after-ms`` or ``retry-after``: seconds or HTTP date)."""
    raw_ms = response.headers.get("retry-after-ms")
    if raw_ms:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def _request_id(response: httpx2.Response) -> str | None:
    return response.headers.get("x-request-id") or response.headers.get("cf-ray")


def error_from_response(response: httpx2.Response, *, secret: str | None = None) -> TogetherAPIError:
    """The ``TogetherAPIError`` for a non-2xx answer, with a next step in its message."""
    status = response.status_code
    message, code, param = _server_message(response)
    if secret:
        message = message.replace(secret, "[redacted]")
    message = quote(message, ERROR_BODY_CHARS)  # the server's words: untrusted, clipped, generic secrets out
    where = f"{response.request.method} {response.request.url.path}"
    said = f"{where} → {status}: {message}"
    if param:
        said += f" (param: {quote(param, NAME_CHARS)})"
    if status == 401:
        hint = (
            "The API key was rejected. Together: put a valid TOGETHER_API_KEY (api.together.ai → Settings → API "
            "keys) in byom-mcp's env in your host's MCP config, then restart the host so the server reads it. "
            "Local engine: the server reads the engine's key file itself; remove a stale BYOM_ENGINE_API_KEY."
        )
    elif status == 402:
        hint = "The account reached its spending limit. Adjust billing at api.together.ai, then retry."
    elif status == 403:
        hint = "The key may not access this resource or project. Check the key's project and permissions."
    elif status == 404:
        hint = (
            "Check the model name or id. For base models, list the fine-tunable ones "
            "(GET /v2/supported-models?product=PRODUCT_FINE_TUNING)."
        )
    elif status == 409:
        hint = "It conflicts with the current state; fetch the resource again before retrying."
    elif status in (400, 422):
        hint = "Fix the request as the message says, then retry."
    elif status == 429 and code == QueueFull.CODE:
        # The engine's job queue is full (its message says what to do): not a rate limit, no point retrying.
        hint = "Nothing was created."
    elif status == 429:
        wait = retry_after_seconds(response)
        hint = (
            f"Rate limited: retry after {_wait_text(wait)}."
            if wait is not None
            else "Rate limited: wait a minute and retry."
        )
    elif status >= 500 and is_loopback(response.request.url.host):
        hint = (
            "The local engine failed. Its log says why: engine.log in the byom data dir (or the terminal running "
            "`byom engine`). Retry once the cause is fixed."
        )
    elif status >= 500:
        hint = "The server failed. Retry in a minute; if it persists, contact Together support"
        hint += f" with request id {_request_id(response)}." if _request_id(response) else "."
    else:
        hint = "Unexpected answer; check TOGETHER_BASE_URL points at Together's API or the local engine."
    # Server messages often end with their own period ("Invalid API key."): don't add a second.
    sep = " " if said.endswith((".", "!", "?")) else ". "
    return TogetherAPIError(
        f"{said}{sep}{hint}", status_code=status, code=code, request_id=_request_id(response)
    )


def error_from_transport(exc: httpx2.HTTPError, base_url: str) -> TogetherAPIError:
    """The ``TogetherAPIError`` for a request that got no answer."""
    kind = "timed out" if isinstance(exc, httpx2.TimeoutException) else f"failed ({type(exc).__name__})"
    return TogetherAPIError(
        f"Request to {base_url} {kind}. Check the network and TOGETHER_BASE_URL; for the local engine, "
        "check that it is running (BYOM_ENGINE_URL).",
        status_code=None,
    )
