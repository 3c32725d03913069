"""The result of checking one training file: its format, counts, problems, and the Together wire shape."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Conversion",
    "DataReport",
    "DatasetFormat",
    "Problem",
    "ProblemKind",
    "Severity",
    "ValidationReport",
]

DatasetFormat = Literal["general", "conversation", "instruction", "preference", "tokenized"]
Severity = Literal["error", "warning"]
ProblemKind = Literal[
    "file",  # missing, not a regular file, over the size limit, unreadable, wrong extension
    "empty_file",  # zero bytes, or only blank lines
    "encoding",  # not UTF-8 (or a byte-order mark: warning)
    "line_too_long",  # a line over MAX_LINE_BYTES; skipped unread
    "json",  # not valid JSON
    "not_object",  # valid JSON but not an object
    "unknown_format",  # keys match no dataset format
    "mixed_formats",  # a line in another format than the file's first sample, or two formats on one line
    "missing_key",
    "unknown_key",  # warning: ignored in training, rejected by the legacy v1 SDK check
    "wrong_type",
    "bad_role",
    "role_order",  # first message not system/user (error); non-alternating turns (warning)
    "no_assistant",
    "empty_content",
    "bad_weight",
    "image",  # an image where none is allowed, a bad data URL, too many or too large images
    "preference",  # preferred/non_preferred outputs shape, input ending with the assistant
    "parquet",  # an unreadable Parquet file, a missing input_ids column, an unexpected column
    "layout",  # rows in a layout that is not Together's (TRL, ShareGPT, Alpaca…): convert them
    "method",  # the data does not fit the training method (DPO needs preference pairs; SFT cannot use them)
    "duplicate",  # warning: a row repeating an earlier row exactly
    "conflict",  # warning: a prompt an earlier row answered differently
    "same_rejected",  # warning: most preference pairs reject the same answer text
    "template",  # rows the model's chat template cannot render (a check with a model only)
]


class Problem(BaseModel):
    """One broken rule, where it is and what to do about it."""

    line: int | None = Field(
        None, description="1-based physical line (Parquet: 1-based row); None = whole file."
    )
    field: str | None = Field(None, description='Where in the sample, e.g. "messages[2].role".')
    kind: ProblemKind
    severity: Severity = "error"
    message: str = Field(description="What is wrong, quoting at most a short excerpt of the data.")
    fix: str = Field(description="What to do about it.")

    def render(self) -> str:
        """``Line 7: <message> <fix>`` (the format Together's validation_report.error uses)."""
        where = f"Line {self.line}: " if self.line is not None else ""
        return f"{where}{self.message} {self.fix}".strip()


class Conversion(BaseModel):
    """How the file's first row converts from the layout found into Together's format (untrusted text, clipped)."""

    layout: str = Field(description="The layout found, e.g. trl_preference, sharegpt, alpaca.")
    name: str = Field(description="The layout in words.")
    to_format: DatasetFormat = Field(description="Together's format the rows convert to.")
    line: int
    row: dict[str, Any] = Field(description="The row as found.")
    converted: dict[str, Any] = Field(description="The same row in Together's format.")


class DataReport(BaseModel):
    """What ``check_file`` found: valid or not, the format, counts, and the problems (first N in full)."""

    valid: bool = Field(description="No error-severity problem (warnings allowed).")
    file_type: Literal["jsonl", "parquet"] = "jsonl"
    purpose: str = "fine-tune"
    dataset_format: DatasetFormat | None = Field(None, description="Format of the first sample.")
    nbytes: int = 0
    nlines: int = Field(0, description="Samples: non-blank lines (JSONL) or rows (Parquet).")
    blank_lines: int = 0
    bad_lines: int = Field(0, description="Samples with at least one error.")
    problems: list[Problem] = Field(
        default_factory=list,
        description="The first max_problems errors in line order, then warnings (each kind once per detail).",
    )
    problem_counts: dict[str, int] = Field(
        default_factory=dict, description="How many times each problem kind occurred in the whole file."
    )
    conversion: Conversion | None = Field(
        None, description="Rows in another layout (TRL, ShareGPT, Alpaca…): the layout and one row converted."
    )
    duplicate_rows: int = Field(0, description="Rows repeating an earlier row exactly.")
    conflicting_answers: int = Field(0, description="Rows answering an earlier row's prompt differently.")
    has_message_weights: bool = False
    has_sample_weights: bool = False
    has_tools: bool = False
    has_parallel_tool_calls: bool = False
    has_reasoning: bool = False
    is_multimodal: bool = False

    # -- the views older callers read --------------------------------------------------------
    @property
    def errors(self) -> list[str]:
        return [p.render() for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[str]:
        return [p.render() for p in self.problems if p.severity == "warning"]

    @property
    def error(self) -> str | None:
        """The first error as ``Line N: ...``, or None when valid."""
        errors = self.errors
        return errors[0] if errors else None

    @property
    def error_line(self) -> int | None:
        return next((p.line for p in self.problems if p.severity == "error"), None)

    def to_together(self) -> dict[str, Any]:
        """Render as the SDK 3.1.1 ``ValidationReport`` (together/types/file_response.py)."""
        fmt = self.dataset_format
        out: dict[str, Any] = {
            "valid": self.valid,
            "dataset_format": fmt.upper() if fmt else None,
            "dataset_has_message_weights": self.has_message_weights,
            "dataset_has_parallel_tool_calls": self.has_parallel_tool_calls,
            "dataset_has_reasoning": self.has_reasoning,
            "dataset_has_sample_weights": self.has_sample_weights,
            "dataset_has_tools": self.has_tools,
            "dataset_is_multimodal": self.is_multimodal,
            "nlines": self.nlines,
        }
        # `error` is present only together with `error_type` (ref together-api-2026-11 §1.6).
        if not self.valid:
            out["error"] = self.error
            out["error_type"] = "INVALID_FORMAT"
        return out


# The name the engine and the tests used before the rebuild; same model.
ValidationReport = DataReport
