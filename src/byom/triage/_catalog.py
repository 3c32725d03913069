"""The failure-pattern catalogue shipped as ``patterns.yaml``: its pydantic shape, loaded and checked once."""

from __future__ import annotations

import datetime
import re
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from byom.errors import CatalogError, describe_validation_error

__all__ = [
    "CATEGORIES",
    "Category",
    "Correction",
    "DocsClass",
    "Pattern",
    "PatternCatalog",
    "Stage",
    "load_patterns",
    "parse_patterns",
]

Category = Literal[
    "out_of_memory",
    "data_format",
    "tokenizer",
    "model_access",
    "model_incompatible",
    "checkpoint_corrupt",
    "hyperparameter",
    "numerical",
    "hardware",
    "distributed",
    "billing",
    "auth",
    "rate_limit",
    "internal",
    "endpoint",
    "network",  # a connection to the Hub, Together or the engine failed (DNS, timeout, refused, proxy)
    "configuration",  # a setting of byom or the engine: an environment variable, a flag, an install extra
    "request",  # a call's own argument, id or state is wrong (not found, conflict, a bad value): fix the call
    "unknown",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

# The four error classes of Together's BYOM troubleshooting page (together-byom-docs.md, "Troubleshooting").
DocsClass = Literal[
    "Internal error",
    "CUDA OOM",
    "Value error/assertion from checkpoint validation",
    "Runtime error",
]

# Together's five BYOM stages (data download → initialization → training → saving → upload), plus the three
# moments outside a job's run: the create call itself, a deployment of the result, and a call to the served model.
Stage = Literal[
    "create", "download", "initialization", "training", "saving", "upload", "deployment", "calling the model"
]

# What the explainer can turn into a corrected create_finetune call or concrete steps (see _explain.py).
Correction = Literal[
    "reduce_memory",  # LoRA instead of full, then half the batch_size, then half the max_seq_length
    "use_lora",
    "recommend_base",
    "fit_context",  # max_seq_length down to the number the message (or the model's config) gives
    "clamp_range",  # a hyperparameter back inside the "low to high" range the message gives
    "train_on_inputs",
    "all_linear_modules",
    "lower_learning_rate",
    "fix_data_lines",
    "add_hf_token",
    "set_chat_template",
    "add_tokenizer",
]

_ID = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"


class Pattern(BaseModel):
    """One known failure: the regexes that recognise it and what it means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID, max_length=80)
    match: list[str] = Field(
        min_length=1, description="regexes, searched case-insensitively; any one matches"
    )
    category: Category
    docs_class: DocsClass | None = None
    stage: Stage | None = None
    cause: str = Field(min_length=10, max_length=400)
    fixes: list[str] = Field(min_length=1, description="most likely first")
    retryable: bool
    correction: Correction | None = None
    broad: bool = Field(
        False, description="a vocabulary pattern (byom's own words): tried only when no specific one matches"
    )
    source: str = Field(min_length=3)
    checked_on: datetime.date

    @field_validator("match")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for regex in value:
            try:
                re.compile(regex, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"regex {regex!r} does not compile: {exc}") from None
        return value

    @field_validator("cause")
    @classmethod
    def _one_sentence(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("cause must be one sentence on one line")
        return value.strip()

    def search(self, text: str) -> re.Match[str] | None:
        """Where one of this pattern's regexes is found in ``text`` (one combined search), or None."""
        return _combined(tuple(self.match)).search(text)


@lru_cache(maxsize=512)
def _combined(regexes: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{r})" for r in regexes), re.IGNORECASE | re.MULTILINE)


class PatternCatalog(BaseModel):
    """The whole file: patterns in priority order (the first that matches wins, so specific before generic)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    patterns: list[Pattern] = Field(min_length=1)
    hints: list[Pattern] = Field(
        default_factory=list,
        description="when no pattern matches: regexes over the exception types and the stack's module paths",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> PatternCatalog:
        seen: set[str] = set()
        for pattern in (*self.patterns, *self.hints):
            if pattern.id in seen:
                raise ValueError(f"duplicate pattern id {pattern.id!r}")
            seen.add(pattern.id)
        return self

    def get(self, pattern_id: str) -> Pattern | None:
        return next((p for p in self.patterns if p.id == pattern_id), None)


def parse_patterns(text: str, *, name: str = "patterns.yaml") -> PatternCatalog:
    """Validate a catalogue's YAML text; ``CatalogError`` names the file and the bad entry."""
    import yaml  # only when the catalogue is first read, not at server start-up

    try:
        data = yaml.safe_load(text)
        return PatternCatalog.model_validate(data)
    except yaml.YAMLError as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            problem += f" (line {mark.line + 1})"
        cause: Exception = exc
    except ValidationError as exc:
        problem = _describe(exc, data)
        cause = exc
    raise CatalogError(
        f"The failure-pattern catalogue ({name}) is invalid: {problem}. "
        "Reinstall byom-mcp; if you edited the file, fix the entry named here."
    ) from cause


def _describe(exc: ValidationError, data: object) -> str:
    """The validation problem, with the id of the pattern at fault instead of its list index."""
    text = describe_validation_error(exc)
    first = exc.errors(include_url=False, include_input=False)[0]["loc"]
    if len(first) >= 2 and first[0] == "patterns" and isinstance(first[1], int) and isinstance(data, dict):
        rows = data.get("patterns")
        row = rows[first[1]] if isinstance(rows, list) and first[1] < len(rows) else None
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            text = f"pattern {row['id']!r}: {text}"
    return text


@lru_cache(maxsize=1)
def load_patterns() -> PatternCatalog:
    """The catalogue shipped in ``byom/triage/patterns.yaml``, validated on first use (then cached)."""
    raw = resources.files("byom.triage").joinpath("patterns.yaml").read_text(encoding="utf-8")
    return parse_patterns(raw, name="byom/triage/patterns.yaml")
