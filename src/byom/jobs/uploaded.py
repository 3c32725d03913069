"""An uploaded training file as the backend sees it: its validation report, and ``POST /v1/fine-tunes/preview``
(how the backend's trainer tokenizes its first rows and which tokens carry loss).

``check_training_data`` checks a local file on this machine; given a file id it asks the backend instead, so the
answer is the backend's own (Together's cloud, or the local engine, which implements the same route).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from byom.backend import Backend
from byom.data import DataCheck, DataReport, PreviewShown, Problem, bounded_previews

if TYPE_CHECKING:
    from byom.together import FinetunePreviewRow

__all__ = ["check_uploaded", "is_file_id"]


def is_file_id(value: str) -> bool:
    """A Together file id (``file-…``), not a path."""
    return value.startswith("file-") and "/" not in value and "\\" not in value and "." not in value


async def check_uploaded(
    backend: Backend, file_id: str, *, model: str | None, preview_rows: int, purpose: str
) -> DataCheck:
    """The backend's report on ``file_id``; with ``model``, its preview of the first ``preview_rows`` rows."""
    client = backend.client
    found = await client.retrieve_file(file_id)  # an unknown id: FileNotFound, with what to pass
    vr = found.validation_report
    fmt = (vr.dataset_format or "").lower() if vr else ""
    report = DataReport(
        valid=bool(vr and vr.valid) and not found.is_pending and not found.is_rejected,
        file_type="parquet" if (found.file_type or "").lower() == "parquet" else "jsonl",
        purpose=purpose,
        dataset_format=fmt if fmt in ("general", "conversation", "instruction", "preference") else None,
        nbytes=found.bytes or 0,
        nlines=(vr.nlines or 0) if vr else 0,
    )
    if vr is not None:
        report.has_message_weights = bool(vr.dataset_has_message_weights)
        report.has_sample_weights = bool(vr.dataset_has_sample_weights)
        report.has_tools = bool(vr.dataset_has_tools)
        report.has_parallel_tool_calls = bool(vr.dataset_has_parallel_tool_calls)
        report.has_reasoning = bool(vr.dataset_has_reasoning)
        report.is_multimodal = bool(vr.dataset_is_multimodal)
    if found.is_pending:
        _problem(
            report,
            f"{backend.label} is still validating it ({found.processing_status}).",
            "Call check_training_data again in a minute.",
        )
    elif not report.valid:
        why = (vr.error if vr else None) or "no reason given"
        _problem(
            report,
            f"{backend.label} rejected it ({found.processing_status or 'invalid'}): {why[:300]}",
            "Check the local file with check_training_data (every problem with its line), fix it, and upload it "
            "again (create_finetune with the local path).",
        )
    check = DataCheck(file=found.filename or file_id, report=report)
    check.notes.append(f"Checked by {backend.label} (file {file_id}), not on this machine.")
    if not model:
        check.notes.append("Pass model (or base) for the backend's preview of what the loss sees.")
        return check
    if not report.valid:
        return check
    preview = await client.preview_finetune(model=model, training_file=file_id, top_k=max(1, preview_rows))
    check.tokenizer = f"{preview.model or model} (the backend's preview)"
    check.preview = bounded_previews([_shown(row) for row in preview.rows[:preview_rows]])
    if backend.costs_money:
        check.notes.append(
            "Together's preview tokenizes with the base template's tokenizer; its docs do not say whether a BYOM job "
            "uses your model's. check_training_data on the local file with model= shows yours."
        )
    return check


def _problem(report: DataReport, message: str, fix: str) -> None:
    report.problems.append(Problem(kind="file", message=message, fix=fix))
    report.problem_counts["file"] = report.problem_counts.get("file", 0) + 1


def _shown(row: FinetunePreviewRow) -> PreviewShown:
    """A row of the backend's preview as text: its token pieces joined, trained spans between ⟦ ⟧ (the pieces are
    byte-level BPE or SentencePiece: Ġ and ▁ are spaces, Ċ a newline)."""
    starts = {s for s, _ in row.trained_spans}
    ends = {e for _, e in row.trained_spans}
    out: list[str] = []
    for i, token in enumerate(row.tokens):
        if i in ends:
            out.append("⟧")
        if i in starts:
            out.append("⟦")
        out.append(token.replace("Ġ", " ").replace("▁", " ").replace("Ċ", "\n"))
    if len(row.tokens) in ends:
        out.append("⟧")
    text = "".join(out)
    notes = ["Truncated at the max sequence length."] if row.truncated else []
    return PreviewShown(
        num_tokens=row.num_tokens,
        num_trained_tokens=row.num_trained_tokens,
        truncated=row.truncated,
        rendered=text,
        notes=notes,
    )
