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
from byom.data._tokens import RowPreview, TokenStats, iter_rows, preview, token_stats
from byom.untrusted import PREVIEW_ROW_CHARS, PREVIEW_TOTAL_CHARS, clip, fence

__all__ = [
    "DataCheck",
    "PreviewShown",
    "bounded_previews",
    "check_training_file",
    "default_max_seq_length",
    "render_data_check",
]


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
    tokens_per_epoch: int | None = Field(
        None, description="Trained tokens in one pass: what training is priced by."
    )
    preview: list[PreviewShown] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


def check_training_file(
    path: Path,
    *,
    tokenizer: Any = None,
    tokenizer_name: str | None = None,
    max_seq_length: int | None = None,
    preview_rows: int = 3,
    purpose: str = "fine-tune",
    max_problems: int = 20,
) -> DataCheck:
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
    seq = max_seq_length or default_max_seq_length(tokenizer)
    if max_seq_length is None:
        check.notes.append(
            f"max_seq_length {seq}: the tokenizer's model maximum (pass max_seq_length to change it)."
        )
    stats = token_stats(tokenizer, iter_rows(path), max_seq_length=seq)
    check.token_stats = stats
    check.tokens_per_epoch = stats.trained_tokens
    if report.dataset_format != "preference" and preview_rows > 0:
        rows: list[RowPreview] = preview(iter_rows(path), tokenizer, max_seq_length=seq, top_k=preview_rows)
        check.preview = bounded_previews(
            [
                PreviewShown(
                    num_tokens=r.num_tokens,
                    num_trained_tokens=r.num_trained_tokens,
                    truncated=r.truncated,
                    rendered=r.rendered,
                    notes=r.notes,
                )
                for r in rows
            ]
        )
    return check


def bounded_previews(rows: list[PreviewShown]) -> list[PreviewShown]:
    """``rows`` with each text clipped to its share of ``PREVIEW_TOTAL_CHARS`` (at most ``PREVIEW_ROW_CHARS``): a
    36 KB row, or a million-token max_seq_length, must not fill the host's result cap with untrusted text."""
    if not rows:
        return rows
    each = min(PREVIEW_ROW_CHARS, PREVIEW_TOTAL_CHARS // len(rows))
    return [r.model_copy(update={"rendered": clip(r.rendered, each)}) for r in rows]


def default_max_seq_length(tokenizer: Any) -> int:
    """The tokenizer's model maximum when it states a real one (some say 1e30 for "unlimited"), else 4096."""
    value = getattr(tokenizer, "model_max_length", None)
    return int(value) if isinstance(value, int) and 0 < value < 1_000_000 else 4096


def render_data_check(check: DataCheck) -> str:
    parts = [render_data_report(check.report, check.file)]
    if check.token_stats is not None:
        parts.append(f"Tokens with {check.tokenizer}'s tokenizer and chat template:")
        parts.append(render_token_stats(check.token_stats))
        parts.append(
            f"About {check.tokens_per_epoch:,} trained tokens per epoch (approximate: the service counts its own; "
            "Together prices BYOM training by tokens × epochs at the base template's rate)."
        )
    if check.preview:
        parts.append(
            "What the loss sees (untrusted dataset text):\n"
            + fence(render_previews(check.preview), "dataset")
        )
    parts.extend(check.notes)
    return "\n".join(parts)
