"""Together's fine-tuning rates, shipped as ``prices.json``: a plan's price from a token count, before any upload.

    tokens + base + method + training type ──offline_price()──► OfflinePrice (usd or None, and its basis)

A rate applies by the base template's name (the large LoRA-only models, each with its own minimum) or else by
its size bracket; a base of unknown size, or one above every bracket, has no offline rate: the price is None
and the basis says why. The figure is what a plan shows and a confirmation binds; Together's own estimate,
asked after the upload, is compared with it before anything is created (``jobs/launch.py``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from byom.catalog._models import CatalogBase

__all__ = ["OfflinePrice", "PriceTable", "load_price_table", "offline_price"]

Method = Literal["sft", "dpo"]
TrainingType = Literal["lora", "full"]


class _Rates(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    sft_lora: float
    dpo_lora: float
    sft_full: float | None = None  # None: full training is not offered at this rate
    dpo_full: float | None = None

    def per_million(self, method: Method, training_type: TrainingType) -> float | None:
        rate: float | None = getattr(self, f"{method}_{training_type}")
        return rate


class _Bracket(_Rates):
    up_to_params: int


class _ModelRates(_Rates):
    names: list[str] = Field(default_factory=list)
    prefixes: list[str] = Field(default_factory=list)
    minimum_usd: float

    def matches(self, base: str) -> bool:
        name = base.lower()
        return name in (n.lower() for n in self.names) or any(
            name.startswith(p.lower()) for p in self.prefixes
        )


class PriceTable(BaseModel):
    """``prices.json``: USD per 1M tokens processed, with the source and the date it was read."""

    model_config = ConfigDict(extra="forbid")

    source: str
    retrieved: str
    as_of: str
    notes: str
    minimum_usd: float
    failed_jobs: str = Field(description="What a job that fails costs.")
    cancelled_jobs: str = Field(description="What a cancelled job costs.")
    brackets: list[_Bracket]
    models: list[_ModelRates]


class OfflinePrice(BaseModel):
    """A price worked out on this machine; ``usd`` is None when no rate is known (``basis`` says why)."""

    usd: float | None
    basis: str
    rate_per_million: float | None = None


@lru_cache(maxsize=1)
def load_price_table() -> PriceTable:
    """The rate table shipped in ``byom/catalog/prices.json``."""
    raw = resources.files("byom.catalog").joinpath("prices.json").read_text(encoding="utf-8")
    return PriceTable.model_validate(json.loads(raw))


def offline_price(
    tokens: int,
    base: CatalogBase | None,
    *,
    method: Method,
    training_type: TrainingType,
    table: PriceTable | None = None,
) -> OfflinePrice:
    """The price of processing ``tokens`` (epochs and evaluations included) on ``base`` at the packaged rates."""
    table = table or load_price_table()
    dated = f"the rate table packaged with byom (together.ai/pricing, {table.as_of}; read {table.retrieved})"
    terms = f" {table.failed_jobs} {table.cancelled_jobs}"

    def unknown(why: str) -> OfflinePrice:
        # The formula filled in as far as it is known: the user can look the rate up and finish it.
        formula = (
            f" Rate not known offline: the price is {tokens:,} tokens × the base's {method.upper()} {training_type} "
            f"rate per 1M tokens (together.ai/pricing), at least ${table.minimum_usd:,.2f} a job."
        )
        return OfflinePrice(usd=None, basis=why + formula + terms)

    if base is None:
        return unknown("The base is not in the catalog, so no rate is known offline.")
    rates: _Rates | None = next((m for m in table.models if m.matches(base.name)), None)
    minimum = rates.minimum_usd if isinstance(rates, _ModelRates) else table.minimum_usd
    if rates is None:
        if base.param_count is None:
            return unknown(f"The size of base {base.name} is unknown, so no rate is known offline.")
        rates = next((b for b in table.brackets if base.param_count <= b.up_to_params), None)
        if rates is None:
            return unknown(f"Base {base.name} is larger than every size bracket of the packaged rate table.")
    rate = rates.per_million(method, training_type)
    if rate is None:
        return unknown(f"The packaged rate table has no {training_type} training rate for {rates.label}.")
    usd = round(max(tokens * rate / 1e6, minimum), 2)
    floor = f", at least ${minimum:,.2f} a job" if minimum else ""
    return OfflinePrice(
        usd=usd,
        basis=(
            f"{tokens:,} tokens × ${rate:,.2f} per 1M ({rates.label}, {method.upper()} {training_type}{floor}): "
            f"{dated}. BYOM jobs are priced by the base template, not by the custom model's size.{terms}"
        ),
        rate_per_million=rate,
    )
