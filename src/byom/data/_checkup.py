"""A training file checked in full: the schema, and with a tokenizer the token statistics and the loss preview.

What ``byom check-data`` and the ``check_training_data`` tool both run. The tokenizer is loaded by the caller
(a local directory or a Hub id, never with remote code); rows are untrusted text, kept in fields and fenced
when rendered.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from byom.data._render import render_data_report, render_previews, render_token_stats
from byom.data._report import DataReport, Problem
from byom.data._seqlen import decide_max_seq_length
from byom.data._tokens import (
    RowPreview,
    TokenStats,
    Unrenderable,
    file_token_stats,
    iter_rows,
    preview,
    preview_pair,
    sample_lines,
)
from byom.errors import ChatTemplateError
from byom.untrusted import PREVIEW_ROW_CHARS, PREVIEW_TOTAL_CHARS, clip, fence

if TYPE_CHECKING:
    from byom.data._checker import Method

__all__ = [
    "ConvertedCopy",
    "DataCheck",
    "PreviewShown",
    "bounded_previews",
    "check_training_file",
    "render_data_check",
]


class PreviewShown(BaseModel):
    """One previewed row as a reader needs it (the token ids stay out: they are for machines)."""

    side: Literal["chosen", "rejected"] | None = Field(
        None, description="A preference row's side: each is trained on its own answer."
    )
    num_tokens: int
    num_trained_tokens: int
    truncated: bool
    rendered: str = Field(description="Untrusted dataset text, trained spans between ⟦ ⟧.")
    notes: list[str]


class ConvertedCopy(BaseModel):
    """A converted copy written on request: the report, tokens and preview are of this copy."""

    path: str
    source: str = Field(description="The original file (left as it was).")
    layout: str = Field(description="The layout converted from.")
    rows: int


class DataCheck(BaseModel):
    """``check_training_data``'s answer."""

    file: str
    report: DataReport
    converted: ConvertedCopy | None = None
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
    method: Method | None = None,
    write_converted: Path | None = None,
) -> DataCheck:
    """Check ``path``; with ``write_converted``, write its rows in Together's format there (when they are in
    another layout) and check that copy instead, like any other file. With a tokenizer, count tokens and preview
    rows at the length training will use (``decide_max_seq_length``: the request, the model's config, and the
    base's (SFT, DPO) limits)."""
    # The checker (msgspec, the layouts, the parallel scan) loads on the first check, not at server start.
    from byom.data._check import check_file
    from byom.data._layouts import write_converted as write_converted_copy

    report = check_file(path, purpose=purpose, max_problems=max_problems, method=method)
    converted: ConvertedCopy | None = None
    note = None
    if write_converted is not None:
        if report.conversion is None and "layout" not in report.problem_counts:
            note = f"Nothing converted: {path.name} is not in a layout byom converts" + (
                f" (it is already Together's {report.dataset_format} format)."
                if report.dataset_format
                else "."
            )
        else:
            layout, rows = write_converted_copy(path, write_converted)
            converted = ConvertedCopy(
                path=str(write_converted), source=path.name, layout=layout.id, rows=rows
            )
            path = write_converted
            report = check_file(path, purpose=purpose, max_problems=max_problems, method=method)
            note = (
                f"Wrote {rows} row{'s' if rows != 1 else ''} converted from the {layout.name} layout to {write_converted} (the original is "
                "unchanged); the report above is of that copy: upload it."
            )
    check = DataCheck(
        file=path.name,
        report=report,
        converted=converted,
        tokenizer=tokenizer_name if tokenizer is not None else None,
    )
    if note is not None:
        check.notes.append(note)
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
    unrenderable = Unrenderable()
    stats = file_token_stats(tokenizer, path, max_seq_length=seq.value, unrenderable=unrenderable)
    if unrenderable.count:
        drops_calls = bool(unrenderable.tool_calls_only) and "tool_calls" not in str(
            getattr(tokenizer, "chat_template", None) or ""
        )
        check.report = _with_unrenderable(report, path, unrenderable, drops_calls)
    check.token_stats = stats
    check.tokens_per_epoch = stats.processed_tokens
    if preview_rows > 0:
        shown: list[tuple[RowPreview, Literal["chosen", "rejected"] | None]] = []
        if report.dataset_format == "preference":
            for row in islice(iter_rows(path), preview_rows):
                try:
                    chosen, rejected = preview_pair(tokenizer, row, max_seq_length=seq.value)
                except ChatTemplateError:  # reported above
                    continue
                shown += [(chosen, "chosen"), (rejected, "rejected")]
        else:
            previews = preview(iter_rows(path), tokenizer, max_seq_length=seq.value, top_k=preview_rows)
            shown = [(r, None) for r in previews]
        check.preview = bounded_previews(
            [
                PreviewShown(
                    side=side,
                    num_tokens=r.num_tokens,
                    num_trained_tokens=r.num_trained_tokens,
                    truncated=r.truncated,
                    rendered=r.rendered,
                    notes=r.notes,
                )
                for r, side in shown
            ]
        )
    return check


def _with_unrenderable(
    report: DataReport, path: Path, unrenderable: Unrenderable, drops_calls: bool
) -> DataReport:
    """``report`` with the rows the chat template cannot render as one error at the first of them (training
    would stop there): how many, where, why, and what to do (``drops_calls``: some of them are tool-calling turns
    and the template's source never names tool_calls, so even a row it could render would lose the call)."""
    lines = _sample_lines(path, [sample for sample, _ in unrenderable.first])
    where = ", ".join(f"line {n}" for n in lines) + (", …" if unrenderable.count > len(lines) else "")
    rows = f"{unrenderable.count:,} of {unrenderable.checked:,} rows"
    problem = Problem(
        line=lines[0] if lines else None,
        kind="template",
        message=f"{rows} cannot be rendered by the model's chat template ({where}); the first: "
        f"{unrenderable.first[0][1]} The token statistics below are of the other rows."
        + (
            " This template never renders tool_calls: a tool-calling turn given empty content would train "
            "an empty answer, not the call."
            if drops_calls
            else ""
        ),
        fix=(
            "Give those rows what the template reads, drop them, or train a model whose chat template renders "
            "them (tools, tool_calls, reasoning: most recent instruct models)"
            if not drops_calls
            else "Train a model whose chat template renders tool calls (most recent instruct models' do), or drop "
            "those rows; or, if your app parses calls out of plain text, write each call into that turn's content "
            "in the form it parses"
        )
        + "; inspect_hf_model shows where the template comes from.",
    )
    counts = {"template": unrenderable.count, **report.problem_counts}
    return report.model_copy(
        update={"valid": False, "problems": [problem, *report.problems], "problem_counts": counts}
    )


def _sample_lines(path: Path, samples: list[int]) -> list[int]:
    """The 1-based lines of the given samples, in order."""
    wanted = set(samples)
    out: list[int] = []
    for index, (lineno, _) in enumerate(sample_lines(path)):
        if index in wanted:
            out.append(lineno)
            if len(out) == len(wanted):
                break
    return out


def bounded_previews(rows: list[PreviewShown]) -> list[PreviewShown]:
    """``rows`` with each text clipped to its share of ``PREVIEW_TOTAL_CHARS`` (at most ``PREVIEW_ROW_CHARS``): a
    36 KB row, or a million-token max_seq_length, must not fill the host's result cap with untrusted text."""
    if not rows:
        return rows
    each = min(PREVIEW_ROW_CHARS, PREVIEW_TOTAL_CHARS // len(rows))
    return [r.model_copy(update={"rendered": clip(r.rendered, each)}) for r in rows]


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
        parts.append(
            "What the loss sees (untrusted dataset text):\n"
            + fence(render_previews(check.preview), "dataset")
        )
    parts.extend(check.notes)
    return "\n".join(parts)
