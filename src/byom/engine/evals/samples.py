"""An evaluation's input, one row at a time: JSONL rows, ``{{column}}`` templates, pre-generated answer columns.

Rows are streamed from the file's blob, never loaded whole. A row the evaluation cannot read (not a JSON object,
a template's column missing) is the user's to fix: an ``InvalidRequest`` that names the line and the column, and
the runner ends the evaluation as ``user_error`` with that message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from byom.errors import InvalidRequest

__all__ = ["as_text", "column_answer", "count_rows", "read_rows", "render"]

# Together's templates name a row's columns as ``{{prompt}}``; a dotted name reads into a nested object.
_FIELD = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for every non-blank line of a JSONL file."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError:
                raise InvalidRequest(
                    f"Line {lineno} of the evaluation's input file is not valid JSON. Fix that line (one JSON "
                    "object per line) and create the evaluation again."
                ) from None
            if not isinstance(row, dict):
                raise InvalidRequest(
                    f"Line {lineno} of the evaluation's input file is not a JSON object. Give every line an object "
                    'of columns, e.g. {"prompt": ...}, and create the evaluation again.'
                )
            yield lineno, row


def count_rows(path: Path) -> int:
    """How many samples ``read_rows`` will yield (non-blank lines), counted without parsing."""
    with path.open("rb") as fh:
        return sum(1 for raw in fh if raw.strip())


def as_text(value: Any) -> str:
    """A column's value as the text a model or judge reads: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _lookup(row: dict[str, Any], name: str) -> tuple[bool, Any]:
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _columns(row: dict[str, Any]) -> str:
    names = [repr(k[:40]) for k in list(row)[:12]]
    return ", ".join(names) + (", …" if len(row) > 12 else "") if names else "none"


def render(template: str, row: dict[str, Any], lineno: int, what: str) -> str:
    """``template`` with each ``{{column}}`` replaced by the row's value; a missing column is the user's to fix."""

    def fill(match: re.Match[str]) -> str:
        found, value = _lookup(row, match.group(1))
        if not found:
            raise InvalidRequest(
                f"The {what} names {{{{{match.group(1)[:60]}}}}}, but line {lineno} of the input file has no such "
                f"column (its columns: {_columns(row)}). Fix the template or the data and create the evaluation again."
            )
        return as_text(value)

    return _FIELD.sub(fill, template)


def column_answer(row: dict[str, Any], column: str, lineno: int) -> str | None:
    """A pre-generated answer from ``column`` (None when the row holds null there: that sample has no answer)."""
    found, value = _lookup(row, column)
    if not found:
        raise InvalidRequest(
            f"The answers are read from column {column[:60]!r}, but line {lineno} of the input file has no such "
            f"column (its columns: {_columns(row)}). Name the column that holds the pre-generated answers, or "
            "give a model to generate them."
        )
    return None if value is None else as_text(value)
