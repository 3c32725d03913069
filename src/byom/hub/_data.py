"""Package data derived from transformers and our family table, loaded once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel

__all__ = ["CausalLMTypes", "causal_lm_types", "config_model_types", "families"]


class CausalLMTypes(BaseModel):
    source: str
    transformers_version: str
    mapping: dict[str, str]

    @property
    def class_names(self) -> frozenset[str]:
        return frozenset(self.mapping.values())


class ConfigModelTypes(BaseModel):
    source: str
    transformers_version: str
    model_types: list[str]


class Families(BaseModel):
    source: str
    families: dict[str, str]


def _load(name: str) -> Any:
    return json.loads(resources.files("byom.hub").joinpath(name).read_text(encoding="utf-8"))


@cache
def causal_lm_types() -> CausalLMTypes:
    """transformers' causal-LM mapping as shipped in ``causal_lm_types.json``."""
    return CausalLMTypes.model_validate(_load("causal_lm_types.json"))


@cache
def config_model_types() -> ConfigModelTypes:
    """Model types transformers ships code for, as shipped in ``config_model_types.json``."""
    return ConfigModelTypes.model_validate(_load("config_model_types.json"))


@cache
def families() -> dict[str, str]:
    """model_type -> family table from ``families.json``."""
    return Families.model_validate(_load("families.json")).families
