"""The result of checking one training file, and its Together wire shape."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["DatasetFormat", "ValidationReport"]

DatasetFormat = Literal["general", "conversation", "instruction", "preference"]


class ValidationReport(BaseModel):
    """What ``check_jsonl`` found: valid or not, the format, and the first bad line."""

    valid: bool
    dataset_format: DatasetFormat | None = None
    nlines: int = Field(0, description="Non-blank lines (samples) in the file.")
    error: str | None = Field(None, description='The first problem, e.g. "Line 7: ...".')
    error_line: int | None = Field(None, description="1-based line number of the first problem.")
    errors: list[str] = Field(default_factory=list, description="Up to max_lines_reported problems.")
    warnings: list[str] = Field(
        default_factory=list,
        description="Accepted by the current docs but rejected by the legacy (v1) SDK check.",
    )
    has_message_weights: bool = False
    has_sample_weights: bool = False
    has_tools: bool = False
    has_parallel_tool_calls: bool = False
    has_reasoning: bool = False
    is_multimodal: bool = False

    def to_together(self) -> dict[str, Any]:
        """Render as the SDK 3.1.1 ``ValidationReport`` (together/types/file_response.py)."""
        out: dict[str, Any] = {
            "valid": self.valid,
            "dataset_format": self.dataset_format.upper() if self.dataset_format else None,
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
