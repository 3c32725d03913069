"""Plain-text renderings of a DataReport and of token statistics, for people (CLI) and models (tools)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Protocol

from byom.data._report import DataReport
from byom.data._tokens import TokenStats
from byom.untrusted import fence

__all__ = ["render_data_report", "render_previews", "render_token_stats"]


def render_data_report(report: DataReport, name: str = "") -> str:
    verdict = "valid" if report.valid else "NOT valid"
    head = f"{name}: {verdict}" if name else verdict.capitalize()
    fmt: str = report.dataset_format or "unknown"
    if report.conversion is not None:
        fmt = f"{report.conversion.name} (not Together's; converts to {report.conversion.to_format})"
    lines = [
        f"{head} — {report.file_type}, format {fmt}, {report.nlines} samples"
        + (f", {report.blank_lines} blank lines" if report.blank_lines else "")
        + (f", {report.bad_lines} bad" if report.bad_lines else "")
        + f" ({report.nbytes / 2**20:.1f} MiB)."
    ]
    flags = [
        label
        for label, on in (
            ("message weights", report.has_message_weights),
            ("sample weights", report.has_sample_weights),
            ("tools", report.has_tools),
            ("parallel tool calls", report.has_parallel_tool_calls),
            ("reasoning", report.has_reasoning),
            ("images", report.is_multimodal),
        )
        if on
    ]
    if flags:
        lines.append("Uses: " + ", ".join(flags) + ".")
    if report.conversion is not None:
        conv = report.conversion
        example = "\n".join(json.dumps(r, ensure_ascii=False) for r in (conv.row, conv.converted))
        lines.append(
            f"Line {conv.line} as found, then in Together's {conv.to_format} format (untrusted dataset text):\n"
            + "```json\n"
            + example.replace("```", "'''")
            + "\n```"
        )
    if report.problems:
        # Messages quote the file's own text: the whole list is fenced, so no quote reads as an instruction.
        lines.append("Problems (the quoted excerpts are untrusted text from the file):")
        problems = []
        for p in report.problems:
            where = f"line {p.line}" if p.line is not None else "file"
            field = f" [{p.field}]" if p.field else ""
            tag = "" if p.severity == "error" else " (warning)"
            problems.append(
                f"{where}{field} {p.kind}{tag}: {p.message}" + (f" Fix: {p.fix}" if p.fix else "")
            )
        lines.append(fence("\n".join(problems), "data-problems"))
    shown = len(report.problems)
    total = sum(report.problem_counts.values())
    if total > shown:
        counts = ", ".join(
            f"{k} {n}" for k, n in sorted(report.problem_counts.items(), key=lambda kv: -kv[1])
        )
        lines.append(f"{total} problems in all ({counts}); the first {shown} are shown.")
    return "\n".join(lines)


def render_token_stats(stats: TokenStats) -> str:
    lines = []
    if stats.sampled_every > 1:
        lines.append(
            f"Estimated from 1 row in every {stats.sampled_every} (a bigger file: a few seconds, not minutes), the "
            "counts scaled to the whole file:"
        )
    lines += [
        f"Tokens per sample: min {stats.min}, mean {stats.mean}, p95 {stats.p95}, max {stats.max}; "
        + f"{stats.total_tokens} in all, {stats.trained_tokens} with loss (after truncation)."
    ]
    if stats.over_max_seq_length:
        lines.append(
            f"{stats.over_max_seq_length} of {stats.samples} samples are over max_seq_length {stats.max_seq_length} "
            "and will be truncated."
        )
    if stats.no_trained_tokens:
        lines.append(f"{stats.no_trained_tokens} samples have no token with loss: training drops them.")
    return "\n".join(lines)


class _Shown(Protocol):
    @property
    def side(self) -> str | None: ...
    @property
    def num_tokens(self) -> int: ...
    @property
    def num_trained_tokens(self) -> int: ...
    @property
    def truncated(self) -> bool: ...
    @property
    def rendered(self) -> str: ...
    @property
    def notes(self) -> list[str]: ...


def render_previews(rows: Sequence[_Shown]) -> str:
    out = []
    n = 0
    for row in rows:
        n += row.side != "rejected"  # a preference row's two sides share its number
        side = f" {row.side}" if row.side else ""
        out.append(
            f"-- row {n}{side}: {row.num_tokens} tokens, {row.num_trained_tokens} trained"
            + (", truncated" if row.truncated else "")
            + " (trained text between ⟦ ⟧)"
        )
        out.append(row.rendered)
        out.extend(f"   ! {note}" for note in row.notes)
    return "\n".join(out)
