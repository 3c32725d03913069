"""Raw facts gathered about a checkpoint (Hub or local), before any judgement."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["CARD_EXCERPT_CHARS", "DamagedWeights", "RepoSnapshot", "card_excerpt", "card_license"]

CARD_EXCERPT_CHARS = 500


class DamagedWeights(BaseModel):
    """A weights file that cannot be loaded as it is (cut short, or a corrupt header), and where a good copy is."""

    file: str
    problem: str
    expected_bytes: int | None = None
    actual_bytes: int | None = None
    tensors_affected: int | None = None
    tensors_total: int | None = None
    # Where the folder says the file came from (a Hugging Face cache snapshot or a --local-dir download).
    hub_repo: str | None = None
    hub_revision: str | None = None
    sha256: str | None = None


class RepoSnapshot(BaseModel):
    model: str
    source: Literal["hub", "local"]
    revision: str | None = None
    commit_sha: str | None = None
    files: list[str] = Field(default_factory=list)
    config: dict[str, Any] | None = None
    adapter_config: dict[str, Any] | None = None
    base_config: dict[str, Any] | None = None
    base_config_note: str | None = None
    tokenizer_config: dict[str, Any] | None = None
    # Parameters per dtype of the model weights (adapter weights excluded), and where they came from.
    st_params: dict[str, int] | None = None
    st_total: int | None = None
    st_source: Literal["hub_summary", "headers"] | None = None
    adapter_st_total: int | None = None
    damaged: list[DamagedWeights] = Field(default_factory=list)
    gated: bool | str = False
    private: bool | None = None
    license: str | None = None
    card_excerpt: str | None = None
    token_available: bool = False
    # Entries of a local directory never read (byom.contained): a link out of it, a FIFO, ... (what and where).
    unsafe_files: list[str] = Field(default_factory=list)
    # Things not fetched to stay inside the request budget.
    skipped: list[str] = Field(default_factory=list)


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?", re.DOTALL)


def card_excerpt(text: str) -> str | None:
    """First characters of a model card body (front matter dropped, whitespace collapsed), or None."""
    body = _FRONT_MATTER.sub("", text, count=1)
    body = " ".join(body.split())
    if not body:
        return None
    return body if len(body) <= CARD_EXCERPT_CHARS else body[: CARD_EXCERPT_CHARS - 1] + "…"


def card_license(text: str) -> str | None:
    """``license:`` from a model card's YAML front matter, if any."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return None
    for line in match.group(1).splitlines():
        if line.startswith("license:"):
            value = line.split(":", 1)[1].strip().strip("'\"")
            return value or None
    return None
