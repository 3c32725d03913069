"""The plan's token count, the data check's own: the model's tokenizer and chat template at the job's
max_seq_length, counted where the file and the tokenizer are on this machine (never downloaded for a plan).

Three figures name tokens, and they are the same count seen at different times: the check's ``tokens_per_epoch``
and this count (tokens training reads in one pass, after truncation), the plan's total (× n_epochs), and the job's
``token_count`` once it has run (what it actually read). Together's estimate is Together's own count of the same
thing, and its bill counts tokens processed × epochs (ref together-api.md "Total tokens").
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from byom.data import iter_rows, load_tokenizer, token_stats

__all__ = ["MAX_COUNTED_BYTES", "PlanTokens", "count_plan_tokens"]

# A plan must answer in seconds: a bigger file is counted by check_training_data, not here.
MAX_COUNTED_BYTES = 16 * 2**20


class PlanTokens(BaseModel):
    per_epoch: int = Field(
        description="Tokens training reads in one pass (after truncation): the check's count."
    )
    trained_per_epoch: int = Field(description="Of those, the tokens with a loss label.")
    total: int = Field(description="per_epoch × n_epochs: what the job's token_count will be.")
    max_seq_length: int


def count_plan_tokens(model: str, data: Path, *, max_seq_length: int, n_epochs: int) -> PlanTokens | None:
    """The count when ``model``'s tokenizer is on disk (a folder, or the Hub cache) and ``data`` is small enough."""
    if data.stat().st_size > MAX_COUNTED_BYTES:
        return None
    try:
        tokenizer = load_tokenizer(model, local_files_only=True)
        stats = token_stats(tokenizer, iter_rows(data), max_seq_length=max_seq_length)
    except Exception:  # noqa: BLE001 - no tokenizer here (or it cannot render the rows): the plan goes without
        return None
    return PlanTokens(
        per_epoch=stats.processed_tokens,
        trained_per_epoch=stats.trained_tokens,
        total=stats.processed_tokens * n_epochs,
        max_seq_length=max_seq_length,
    )
