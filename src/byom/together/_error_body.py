"""Together's error answer, and the error object a streamed completion can carry (ref §5.6)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BeforeValidator,
)

from byom.together._shapes import _error_object, _Lenient

__all__ = ["ErrorBody", "ErrorDetail"]


class ErrorDetail(_Lenient):
    message: str | None = None
    type: str | None = None
    param: str | None = None
    code: str | int | None = None


class ErrorBody(_Lenient):
    """Together's error answer: ``{"error": {"message", "type", "param", "code"}}`` (ref §5.6).

    A duplicate upload's 409 adds a top-level ``file_id`` (ref §1.3); the limits 404 also has a top-level
    ``message``.
    """

    error: Annotated[ErrorDetail | None, BeforeValidator(_error_object)] = None
    message: str | None = None
    file_id: str | None = None

    @property
    def text(self) -> str | None:
        """The most specific message the body carries."""
        return (self.error.message if self.error else None) or self.message
