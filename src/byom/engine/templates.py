"""The template (base) models a job names as ``model``: their limits and ``/v2/supported-models``, from the packaged catalog."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from byom.engine.http import page
from byom.engine.state import engine_of
from byom.errors import InvalidRequest, NotFound

__all__ = ["catalog_base", "limits_for", "routes"]


@functools.cache
def _catalog():  # type: ignore[no-untyped-def]
    """The packaged table, copied once: the engine only reads it, and a copy per request (one per base in a
    catalog refresh) deep-copied every base each time."""
    from byom.catalog import load_packaged_catalog

    return load_packaged_catalog()


def catalog_base(name: str):  # type: ignore[no-untyped-def]
    """The catalog row for a template ``model`` name, or None."""
    return _catalog().get(name) if name else None


def limits_for(name: str) -> dict[str, Any] | None:
    """``FinetuneModelLimits`` for the template ``name``, or None when it is not in the catalog."""
    from byom.catalog import LOCAL_TEMPLATE, limits_payload, local_limits_payload

    if name == LOCAL_TEMPLATE:
        return local_limits_payload()
    base = catalog_base(name)
    # The same facts recommend_base reports (byom.catalog.base_limits).
    return limits_payload(base) if base is not None else None


async def model_limits(request: Request) -> JSONResponse:
    name = request.query_params.get("model_name", "").strip()
    if not name:
        raise InvalidRequest(
            "Query parameter 'model_name' is required, e.g. ?model_name=Qwen/Qwen3-8B.",
            param="model_name",
        )
    if name == "None":
        # The SDK formats a missing ``model`` as the string "None" when it fetches the limits before a create.
        raise InvalidRequest(
            "No template model was given (the client sent model_name=None). Pass model=<a fine-tuning base>, "
            "e.g. model='Qwen/Qwen3-8B'; GET /v2/supported-models?product=PRODUCT_FINE_TUNING lists them.",
            param="model",
        )
    limits = limits_for(name) or _job_limits(request, name)
    if limits is None:
        # Together answers unknown models with a 404 {"message": ...} (ref together-api.md §5).
        raise NotFound(
            f"Model '{name}' is not a fine-tuning base of this engine. List them with GET /v2/supported-models"
            "?product=PRODUCT_FINE_TUNING.",
            param="model_name",
            extra={"message": f"model not found: {name}"},
        )
    return JSONResponse(limits)


def _job_limits(request: Request, name: str) -> dict[str, Any] | None:
    """Limits for a ``from_checkpoint`` job: the SDK asks for model_name=<job id> (ref §2.2); answer the parent's template's."""
    import json

    state = engine_of(request)
    job = state.db.one("SELECT request FROM jobs WHERE id = ? OR model_output_name = ?", (name, name))
    if job is None:
        return None
    return limits_for(json.loads(job["request"]).get("model") or "")


_PRODUCTS = {"PRODUCT_FINE_TUNING", "PRODUCT_SERVERLESS", "PRODUCT_DEDICATED", "PRODUCT_RESERVED"}


async def supported_models(request: Request) -> JSONResponse:
    from byom.catalog import supported_model_payload

    q = request.query_params
    product = q.get("product")
    if product and product not in _PRODUCTS:
        raise InvalidRequest(f"Unknown product '{product}'. Use one of {sorted(_PRODUCTS)}.", param="product")
    rows = [supported_model_payload(b) for b in _catalog().bases]
    if product:
        rows = [r for r in rows if product in r["products"]]
    search = (q.get("search") or "").lower()
    if search:
        rows = [r for r in rows if search in f"{r['id']} {r['name']} {r.get('description') or ''}".lower()]
    return page(rows, request, default_limit=100, max_limit=1000, list_object=False)


async def supported_model(request: Request) -> JSONResponse:
    from byom.catalog import supported_model_payload

    name = request.path_params["model_id"]
    base = catalog_base(name)
    if base is None:
        raise NotFound(f"Supported model '{name}' not found. List them with GET /v2/supported-models.")
    return JSONResponse(supported_model_payload(base))


routes = [
    Route("/v1/fine-tunes/models/limits", model_limits, methods=["GET"]),
    Route("/v2/supported-models", supported_models, methods=["GET"]),
    Route("/v2/supported-models/{model_id:path}", supported_model, methods=["GET"]),
]
