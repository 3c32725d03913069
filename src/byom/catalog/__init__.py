"""Together's fine-tunable base models (the BYOM "templates") and how to pick one.

``load_packaged_catalog()`` reads the table shipped as ``bases.json``; ``load_catalog()`` refreshes
it from Together's API when a key is set. ``recommend()`` applies the BYOM docs' selection rule.
"""

from byom.catalog._families import normalize_family, related_families
from byom.catalog._live import load_catalog, merge_live
from byom.catalog._models import Catalog, CatalogBase, FullLimits, LoraLimits
from byom.catalog._packaged import load_packaged_catalog
from byom.catalog._payloads import LIMIT_DEFAULTS, limits_payload, supported_model_payload
from byom.catalog._select import (
    RULE,
    Candidate,
    CustomModelFacts,
    Recommendation,
    facts_from_report,
    recommend,
    render_recommendation,
)

__all__ = [
    "Catalog",
    "CatalogBase",
    "FullLimits",
    "LoraLimits",
    "load_packaged_catalog",
    "load_catalog",
    "merge_live",
    "LIMIT_DEFAULTS",
    "limits_payload",
    "supported_model_payload",
    "normalize_family",
    "related_families",
    "RULE",
    "Candidate",
    "CustomModelFacts",
    "facts_from_report",
    "Recommendation",
    "recommend",
    "render_recommendation",
]
