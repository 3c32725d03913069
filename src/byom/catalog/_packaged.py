"""Load the catalog that ships with the package (``bases.json``)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from pydantic import ValidationError

from byom.catalog._models import Catalog
from byom.errors import CatalogError, describe_validation_error

__all__ = ["load_packaged_catalog"]


@lru_cache(maxsize=1)
def _load() -> Catalog:
    raw = resources.files("byom.catalog").joinpath("bases.json").read_text(encoding="utf-8")
    try:
        data = json.loads(raw)
        return Catalog.model_validate({**data, "origin": "packaged"})
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno}"
        cause: Exception = exc
    except ValidationError as exc:
        problem = describe_validation_error(exc)
        cause = exc
    raise CatalogError(
        f"The packaged base-model table (byom/catalog/bases.json) is invalid ({problem}). "
        "Reinstall byom-mcp; if you edited the file, fix the row named in the error."
    ) from cause


def load_packaged_catalog() -> Catalog:
    """The base-model table shipped in ``byom/catalog/bases.json``, validated."""
    # A copy, so callers may mutate their catalog without touching the cached one.
    return _load().model_copy(deep=True)
