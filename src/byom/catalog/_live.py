"""Refresh the catalog from Together's API, cached on disk for ``settings.catalog_ttl`` seconds.

Discovery is ``GET /v2/supported-models?product=PRODUCT_FINE_TUNING`` plus one
``GET /v1/fine-tunes/models/limits`` per model (ref 2026-11 §2.7, §4.2). The API is authoritative
for which bases exist and for their limits; the packaged table fills in what it does not say
(family, parameter count).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio
from pydantic import BaseModel, ValidationError

from byom.catalog._families import normalize_family
from byom.catalog._models import Catalog, CatalogBase, FullLimits, LoraLimits
from byom.catalog._packaged import load_packaged_catalog
from byom.config import Settings
from byom.errors import TogetherAPIError
from byom.together import FinetuneModelLimits, SupportedModel, TogetherClient

__all__ = ["CACHE_FILE", "LIMITS_CONCURRENCY", "load_catalog", "merge_live"]

logger = logging.getLogger(__name__)

CACHE_FILE = "catalog.json"
LIMITS_CONCURRENCY = 8
_PRODUCT = "PRODUCT_FINE_TUNING"
# Substrings of a model id that name its family, most specific first (used only when neither the
# packaged table nor the API's architecture field says).
_NAME_FAMILIES = (
    ("mixtral", "mixtral"),
    ("mistral", "mistral"),
    ("gemma-3", "gemma3"),
    ("gemma3", "gemma3"),
    ("gemma-2", "gemma2"),
    ("qwen3-next", "qwen3_next"),
    ("qwen2", "qwen2"),
    ("llama-4", "llama4"),
    ("llama", "llama"),
    ("gpt-oss", "gpt_oss"),
    ("deepseek", "deepseek"),
)


class _CacheFile(BaseModel):
    fetched_at: float
    base_url: str
    catalog: Catalog


def _family_from_architecture(arch: str | None) -> str | None:
    if not arch:
        return None
    stem = re.sub(r"(ForCausalLM|ForConditionalGeneration|Model)$", "", arch.strip())
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", stem).lower()
    return normalize_family(snake)


def _family_guess(model: SupportedModel) -> str:
    family = _family_from_architecture(model.architecture)
    if family:
        return family
    name = model.model_name.lower()
    if "qwen3" in name:
        return "qwen3_moe" if re.search(r"-a\d+b", name) else "qwen3"
    for needle, fam in _NAME_FAMILIES:
        if needle in name:
            return fam
    return normalize_family(model.family_id) or "unknown"


def _params_from_name(name: str) -> int | None:
    """A nominal parameter count from an id like ``Foo-8x7B`` or ``Bar-1.7B`` (first size, not ``-A3B``)."""
    lowered = name.lower()
    moe = re.search(r"(\d+)x(\d+(?:\.\d+)?)b", lowered)
    if moe:
        return int(int(moe.group(1)) * float(moe.group(2)) * 1e9)
    for m in re.finditer(r"(?<![a-z])(\d+(?:\.\d+)?)([bm])(?![a-z])", lowered):
        if m.start() > 0 and lowered[m.start() - 1] == "a":
            continue
        return int(float(m.group(1)) * (1e9 if m.group(2) == "b" else 1e6))
    return None


def _merge_one(
    model: SupportedModel, limits: FinetuneModelLimits | None, packaged: CatalogBase | None
) -> CatalogBase:
    name = model.model_name
    if packaged is not None:
        row = packaged.model_copy(deep=True, update={"name": name})
    else:
        params = _params_from_name(name)
        family = _family_guess(model)
        row = CatalogBase(
            name=name,
            family=family,
            model_type=None,
            param_count=params,
            param_count_exact=False,
            moe=bool(re.search(r"-a\d+b|\d+x\d+b", name.lower())) or family.endswith("_moe"),
            notes="From Together's API; not in the packaged table.",
        )
    if model.context is not None:
        row.sft_context = model.context
    if limits is None:
        return row
    # The limits answer wins over both the table and contextLength.
    if limits.max_seq_length_sft:
        row.sft_context = limits.max_seq_length_sft
    if limits.max_seq_length_dpo:
        row.dpo_context = limits.max_seq_length_dpo
    lora = limits.lora_training
    if lora is not None:
        row.lora = LoraLimits(
            max_batch_size=lora.max_batch_size,
            min_batch_size=lora.min_batch_size,
            max_batch_size_dpo=lora.max_batch_size_dpo,
            max_rank=lora.max_rank,
            default_rank=lora.default_rank,
        )
    elif "lora_training" in limits.model_fields_set:
        row.lora = None
    full_supported = limits.full_supported
    if full_supported is not None:
        row.full_training = full_supported
        full = limits.full_training
        row.full = (
            FullLimits(
                max_batch_size=full.max_batch_size,
                min_batch_size=full.min_batch_size,
                max_batch_size_dpo=full.max_batch_size_dpo,
            )
            if full_supported and full is not None
            else None
        )
    for flag in ("supports_vision", "supports_tools", "supports_reasoning"):
        value = getattr(limits, flag)
        if value is not None:
            setattr(row, flag, value)
    return row


def merge_live(
    models: list[SupportedModel],
    limits: dict[str, FinetuneModelLimits | None],
    packaged: Catalog,
    *,
    base_url: str,
    fetched_at: float,
) -> Catalog:
    """Combine the API's model list and limits with the packaged table into a live catalog."""
    rows: list[CatalogBase] = []
    seen: set[str] = set()
    for model in models:
        name = model.model_name
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        rows.append(_merge_one(model, limits.get(name), packaged.get(name)))
    retrieved = datetime.fromtimestamp(fetched_at, UTC).isoformat(timespec="seconds")
    return Catalog(
        bases=rows,
        source=(
            f"{base_url}/v2/supported-models?product={_PRODUCT} and /v1/fine-tunes/models/limits, "
            f"merged with the packaged table ({packaged.source})"
        ),
        retrieved=retrieved,
        origin="live",
        notes="Family and parameter counts come from the packaged table where the API does not give them.",
    )


async def _fetch(client: TogetherClient, packaged: Catalog, now: float) -> Catalog:
    models = await client.supported_models(_PRODUCT)
    if not models:
        raise TogetherAPIError(
            "Together listed no fine-tunable models. Check TOGETHER_BASE_URL; if it is right, retry later."
        )
    limits: dict[str, FinetuneModelLimits | None] = {}
    limiter = anyio.CapacityLimiter(LIMITS_CONCURRENCY)

    async def one(name: str) -> None:
        async with limiter:
            try:
                limits[name] = await client.model_limits(name)
            except TogetherAPIError as exc:
                # A base listed but without limits (404) keeps its listed data; anything else fails the refresh.
                if exc.status_code != 404:
                    raise
                limits[name] = None

    async with anyio.create_task_group() as tg:
        for model in models:
            tg.start_soon(one, model.model_name)
    return merge_live(models, limits, packaged, base_url=client.base_url, fetched_at=now)


def _read_cache(path: Path) -> _CacheFile | None:
    try:
        return _CacheFile.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, ValueError) as exc:
        logger.warning("ignoring unreadable catalog cache %s: %s", path, type(exc).__name__)
        return None


def _write_cache(path: Path, entry: _CacheFile) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(entry.model_dump_json(), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        # A cache we cannot write only costs a refetch next time.
        logger.warning("could not write catalog cache %s: %s", path, exc)


async def load_catalog(
    settings: Settings,
    client: TogetherClient | None = None,
    *,
    now: Callable[[], float] = time.time,
) -> Catalog:
    """The catalog to recommend from: live (cached for ``catalog_ttl``) with a Together key, else packaged.

    Never raises for an API failure: it falls back to the last cached live catalog, then the packaged
    table, and says so in ``Catalog.warnings``.
    """
    packaged = load_packaged_catalog()
    if settings.together_api_key is None:
        return packaged
    path = settings.cache_dir / CACHE_FILE
    base_url = client.base_url if client is not None else settings.together_base_url.rstrip("/")
    cached = _read_cache(path)
    if cached is not None and cached.base_url != base_url:
        cached = None
    t = now()
    if cached is not None and 0 <= t - cached.fetched_at < settings.catalog_ttl:
        return cached.catalog

    owned = client is None
    api = client if client is not None else TogetherClient.from_settings(settings)
    try:
        catalog = await _fetch(api, packaged, t)
    except TogetherAPIError as exc:
        if cached is not None:
            fallback = cached.catalog.model_copy(deep=True)
            fallback.warnings.append(
                f"Could not refresh the base-model list from Together ({exc}); using the list fetched "
                f"{fallback.retrieved}."
            )
            return fallback
        packaged.warnings.append(
            f"Could not fetch the base-model list from Together ({exc}); using the packaged table "
            f"(retrieved {packaged.retrieved}), which may be out of date."
        )
        return packaged
    finally:
        if owned:
            await api.aclose()
    _write_cache(path, _CacheFile(fetched_at=t, base_url=base_url, catalog=catalog))
    return catalog
