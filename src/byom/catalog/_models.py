"""The catalog's data shapes: one fine-tunable Together base model per row."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Catalog", "CatalogBase", "FullLimits", "LoraLimits"]


class LoraLimits(BaseModel):
    """LoRA batch and rank limits; ``None`` means no public figure."""

    model_config = ConfigDict(extra="forbid")

    max_batch_size: int | None = None
    min_batch_size: int | None = None
    max_batch_size_dpo: int | None = None
    max_rank: int | None = None
    default_rank: int | None = None


class FullLimits(BaseModel):
    """Full fine-tuning batch limits; ``None`` means no public figure."""

    model_config = ConfigDict(extra="forbid")

    max_batch_size: int | None = None
    min_batch_size: int | None = None
    max_batch_size_dpo: int | None = None


class CatalogBase(BaseModel):
    """One Together base model that can serve as a BYOM template.

    ``full_training`` is True/False where a source says so, ``None`` where unconfirmed.
    ``lora`` is ``None`` only when LoRA is known to be unsupported.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    family: str
    model_type: str | None = None
    param_count: int | None = None
    param_count_exact: bool = False
    sft_context: int | None = None
    dpo_context: int | None = None
    lora: LoraLimits | None = Field(default_factory=LoraLimits)
    full: FullLimits | None = None
    full_training: bool | None = None
    moe: bool = False
    supports_vision: bool = False
    supports_tools: bool = False
    supports_reasoning: bool = False
    notes: str = ""

    def context(self, method: str = "sft") -> int | None:
        """The max sequence length for ``method`` (``sft`` or ``dpo``)."""
        return self.dpo_context if method == "dpo" else self.sft_context


class Catalog(BaseModel):
    """The base-model table plus where it came from."""

    bases: list[CatalogBase]
    source: str
    retrieved: str
    origin: Literal["packaged", "live"] = "packaged"
    notes: str = ""
    # Set when a live refresh failed and this catalog is a fallback: shown to the user.
    warnings: list[str] = Field(default_factory=list)

    def get(self, name: str) -> CatalogBase | None:
        """The base named ``name`` (case-insensitive), or ``None``."""
        wanted = name.strip().lower()
        for base in self.bases:
            if base.name.lower() == wanted:
                return base
        return None

    def families(self) -> list[str]:
        """Every family in the table, sorted."""
        return sorted({base.family for base in self.bases})
