"""A training file checked in full: the schema, and with a tokenizer the token statistics and the loss preview.

What ``byom check-data`` and the ``check_training_data`` tool both run. The tokenizer is loaded by the caller
(a local directory or a Hub id, never with remote code); rows are untrusted text, kept in fields and fenced
when rendered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from byom.data._check import check_file
from byom.data._render import render_data_report, render_previews, render_token_stats
from byom.data._report import DataReport
from byom.data._seqlen import decide_max_seq_length
from byom.data._tokens import RowPreview, TokenStats, iter_rows, preview, token_stats

__all__ = ["DataCheck", "PreviewShown", "check_training_file", "render_data_check"]


class PreviewShown(BaseModel):
    """One previewed row as a reader needs it (the token ids stay out: they are for machines)."""

    num_tokens: int
    num_trained_tokens: int
    truncated: bool
    rendered: str = Field(description="Untrusted dataset text, trained spans between ⟦ ⟧.")
    notes: list[str]


class DataCheck(BaseModel):
    """``check_training_data``'s answer."""

    file: str
    report: DataReport
    tokenizer: str | None = Field(None, description="Whose tokenizer and chat template counted the tokens.")
    token_stats: TokenStats | None = None
    max_seq_length: int | None = Field(
        None,
        description="The length training cuts rows at: min(requested, the model's context, the base's limit).",
    )
    tokens_per_epoch: int | None = Field(
        None,
        description="Tokens training reads in one pass (after truncation, dropped rows left out). × n_epochs: the "
        "plan's training tokens, the job's token_count and what Together bills.",
    )
    preview: list[PreviewShown] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def check_training_file(
    path: Path,
    *,
    tokenizer: Any = None,
    tokenizer_name: str | None = None,
    model_config: dict[str, Any] | None = None,
    max_seq_length: int | None = None,
    base_limits: tuple[int, int] | None = None,
    preview_rows: int = 3,
    purpose: str = "fine-tune",
    max_problems: int = 20,
) -> DataCheck:
    """Check ``path``; with a tokenizer, count tokens and preview rows at the length training will use
    (``decide_max_seq_length``: the request, the model's config, and the base's (SFT, DPO) limits)."""
    report = check_file(path, purpose=purpose, max_problems=max_problems)
    check = DataCheck(
        file=path.name, report=report, tokenizer=tokenizer_name if tokenizer is not None else None
    )
    if tokenizer is None:
        check.notes.append(
            "Pass model (your Hugging Face model) for token counts and a preview of what the loss sees."
        )
        return check
    if not report.valid or report.file_type != "jsonl":
        check.notes.append("Token statistics need a valid JSONL file: fix the problems first.")
        return check
    base_limit = None
    if base_limits is not None:
        base_limit = base_limits[1] if report.dataset_format == "preference" else base_limits[0]
    seq = decide_max_seq_length(
        max_seq_length, config=model_config, tokenizer=tokenizer, base_limit=base_limit
    )
    check.max_seq_length = seq.value
    check.notes.append(seq.explain() + ("" if base_limit else " Pass base for its limit too."))
    stats = token_stats(tokenizer, iter_rows(path), max_seq_length=seq.value)
    check.token_stats = stats
    check.tokens_per_epoch = stats.processed_tokens
    if report.dataset_format != "preference" and preview_rows > 0:
        rows: list[RowPreview] = preview(
            iter_rows(path), tokenizer, max_seq_length=seq.value, top_k=preview_rows
        )
        check.preview = [
            PreviewShown(
                num_tokens=r.num_tokens,
                num_trained_tokens=r.num_trained_tokens,
                truncated=r.truncated,
                rendered=r.rendered,
                notes=r.notes,
            )
            for r in rows
        ]
    return check


def render_data_check(check: DataCheck) -> str:
    parts = [render_data_report(check.report, check.file)]
    if check.token_stats is not None:
        parts.append(f"Tokens with {check.tokenizer}'s tokenizer and chat template:")
        parts.append(render_token_stats(check.token_stats))
        stats = check.token_stats
        parts.append(
            f"Tokens per epoch: {check.tokens_per_epoch:,} read by training (after truncation at "
            f"{stats.max_seq_length:,}), {stats.trained_tokens:,} of them trained (with a loss label). "
            "Times n_epochs this is the plan's training-token count and the job's token_count; Together bills the "
            "tokens processed (all of them, not only the trained ones) × epochs, counted by its own tokenizer run."
        )
    if check.preview:
        shown = render_previews(check.preview).replace("```", "'''")
        parts.append("What the loss sees (untrusted dataset text):\n```text\n" + shown + "\n```")
    parts.extend(check.notes)
    return "\n".join(parts)
