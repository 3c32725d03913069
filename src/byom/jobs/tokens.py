"""The plan's token count, the data check's own: the model's tokenizer and chat template at the job's
max_seq_length. The same count prices a local file before anything is uploaded.

Three figures name tokens, and they are the same count seen at different times: the check's ``tokens_per_epoch``
and this count (tokens training reads in one pass, after truncation), the plan's total (× n_epochs, the figure
the offline price multiplies), and the job's ``token_count`` once it has run (what it actually read). Together's
estimate is Together's own count of the same thing, and its bill counts tokens processed × epochs (ref
together-api.md "Total tokens").
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

from byom.data import TokenStats, file_token_stats, load_counting_tokenizer

__all__ = ["PlanTokens", "count_plan_tokens", "count_tokens"]


class PlanTokens(BaseModel):
    per_epoch: int = Field(
        description="Tokens training reads in one pass (after truncation): the check's count."
    )
    trained_per_epoch: int = Field(description="Of those, the tokens with a loss label.")
    total: int = Field(description="per_epoch × n_epochs: what the job's token_count will be.")
    max_seq_length: int
    examples: int = Field(0, description="Rows training keeps (a row with nothing to learn is dropped).")
    packed_sequences: int = Field(0, description="The sequences the kept rows pack into at max_seq_length.")
    sampled_every: int = Field(
        1,
        description="1: every row counted; k: a bigger file, every k-th row counted and the figures scaled.",
    )

    @classmethod
    def of(cls, stats: TokenStats, *, n_epochs: int, max_seq_length: int) -> PlanTokens:
        return cls(
            per_epoch=stats.processed_tokens,
            trained_per_epoch=stats.trained_tokens,
            total=stats.processed_tokens * n_epochs,
            max_seq_length=max_seq_length,
            examples=stats.samples - stats.no_trained_tokens,
            packed_sequences=stats.packed_sequences,
            sampled_every=stats.sampled_every,
        )


def count_tokens(
    model: str,
    data: Path,
    *,
    max_seq_length: int,
    sha256: str = "",
    token: str | None = None,
    download: bool = False,
) -> TokenStats:
    """``data``'s tokens with ``model``'s tokenizer at ``max_seq_length``, as check_training_data counts them (a
    bigger file from every k-th row, so a plan answers well inside a host's ~60 s tool call); the tokenizer is
    taken from disk (a folder, or the Hub cache) unless ``download``.

    Raises:
        Exception: whatever loading the tokenizer or rendering a row raises.
    """
    return _stats(model, data, sha256 or str(data.stat().st_mtime_ns), max_seq_length, token, download)


@lru_cache(maxsize=32)
def _stats(
    model: str, data: Path, version: str, max_seq_length: int, token: str | None, download: bool
) -> TokenStats:
    """Cached by content (``version``): a confirmation's later rounds plan again and must not count again."""
    del version  # only part of the cache key
    tokenizer = load_counting_tokenizer(model, token=token, local_files_only=not download)
    return file_token_stats(tokenizer, data, max_seq_length=max_seq_length)


def count_plan_tokens(
    model: str, data: Path, *, max_seq_length: int, n_epochs: int, sha256: str = ""
) -> PlanTokens | None:
    """The count when ``model``'s tokenizer is on disk; else None."""
    try:
        stats = count_tokens(model, data, max_seq_length=max_seq_length, sha256=sha256)
    except Exception:  # noqa: BLE001 - no tokenizer here (or it cannot render the rows): the plan goes without
        return None
    return PlanTokens.of(stats, n_epochs=n_epochs, max_seq_length=max_seq_length)
