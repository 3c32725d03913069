"""Together's fine-tunable base models (the BYOM "templates") and how to pick one.

``load_packaged_catalog()`` reads the table shipped as ``bases.json``; ``load_catalog()`` refreshes
it from Together's API when a key is set. ``recommend()`` applies the BYOM docs' selection rule.
``with_template_finding()`` adds that pick to an inspection report, so both tools say the same.
``base_limits()`` decides a row's limits once, for both ``recommend()`` and the engine's limits endpoint.
``offline_price()`` prices a job from its token count at the rates shipped as ``prices.json``.
"""

from typing import TYPE_CHECKING, Any

from byom.catalog._families import normalize_family, related_families
from byom.catalog._finding import template_finding, with_template_finding
from byom.catalog._models import Catalog, CatalogBase, FullLimits, LoraLimits
from byom.catalog._packaged import load_packaged_catalog
from byom.catalog._payloads import (
    LIMIT_DEFAULTS,
    LOCAL_TEMPLATE,
    BaseLimits,
    BatchLimits,
    base_limits,
    limits_payload,
    local_limits_payload,
    supported_model_payload,
)
from byom.catalog._select import (
    RULE,
    Candidate,
    CustomModelFacts,
    Recommendation,
    facts_from_report,
    recommend,
    recommend_for_report,
    render_recommendation,
)

if TYPE_CHECKING:
    from byom.catalog._live import load_catalog, merge_live
    from byom.catalog._prices import OfflinePrice, PriceTable, load_price_table, offline_price

__all__ = [
    "LIMIT_DEFAULTS",
    "LOCAL_TEMPLATE",
    "RULE",
    "BaseLimits",
    "BatchLimits",
    "Candidate",
    "Catalog",
    "CatalogBase",
    "CustomModelFacts",
    "FullLimits",
    "LoraLimits",
    "OfflinePrice",
    "PriceTable",
    "Recommendation",
    "base_limits",
    "facts_from_report",
    "limits_payload",
    "load_catalog",
    "load_packaged_catalog",
    "load_price_table",
    "local_limits_payload",
    "merge_live",
    "normalize_family",
    "offline_price",
    "recommend",
    "recommend_for_report",
    "related_families",
    "render_recommendation",
    "supported_model_payload",
    "template_finding",
    "with_template_finding",
]


def __getattr__(name: str) -> Any:
    # The live refresh needs Together's client (~0.3 s of imports): load it on the first refresh, not at start-up;
    # the rate table on the first price.
    if name in ("load_catalog", "merge_live"):
        from byom.catalog import _live

        return getattr(_live, name)
    if name in ("OfflinePrice", "PriceTable", "load_price_table", "offline_price"):
        from byom.catalog import _prices

        return getattr(_prices, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
