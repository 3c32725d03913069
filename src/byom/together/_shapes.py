"""What every shape of a Together answer shares: leniency, camelCase ``/v2`` names, timestamps, list pages.

Lenient on purpose (``extra="allow"``, most fields optional): Together adds fields often and legacy
objects carry odd ones (together-python issue #246), and SDK 3.1.1 itself parses without validation
(ref together-api-2026-11 §5.7). Field names follow SDK 3.1.1 as it calls the API (that reference wins
over the April OpenAPI spec). ``/v1`` answers are snake_case; ``/v2`` answers are camelCase on the
wire, declared here with snake_case names and camelCase aliases (either spelling parses).

``tests/together/test_engine_answers_parse.py`` checks that every field the local engine sends is
declared in the shape modules (nothing lands in ``model_extra``), so the two sides cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__: list[str] = []  # bases of the shape modules (``_files``, ``_finetunes``, ...): nothing public


class _Lenient(BaseModel):
    # defer_build: a shape's validator is built on its first answer, not at import (no tool schema holds one;
    # half the import cost of the shapes a server loads at start).
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


class _Camel(_Lenient):
    """A ``/v2`` shape: camelCase on the wire, snake_case here; ``next_cursor`` stays snake (ref §3.3)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)


_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)


def _lenient_datetime(value: Any) -> datetime | None:
    # ISO strings (the API's), Unix seconds (files' created_at) or datetimes; an odd legacy value
    # reads as unknown rather than failing a whole job list.
    if value is None or value == "":
        return None
    try:
        return _DATETIME.validate_python(value)
    except ValidationError:
        return None


Timestamp = Annotated[datetime | None, BeforeValidator(_lenient_datetime)]


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


class _ListPage(_Lenient):
    """``{"object": "list", "data": [...]}``; a bare JSON list (older answers) reads as its ``data``."""

    object: str | None = None
    next_cursor: str | None = Field(default=None, validation_alias=AliasChoices("next_cursor", "nextCursor"))

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, value: Any) -> Any:
        return {"data": value} if isinstance(value, list) else value


def _error_object(value: Any) -> Any:
    # An error given as a bare string (odd job records, some error bodies) reads as its message.
    return {"message": value} if isinstance(value, str) else value
