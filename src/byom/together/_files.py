"""Uploaded files (``/v1/files``): the file object, its validation report, lists and deletes."""

from __future__ import annotations

from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    field_validator,
)

from byom.together._shapes import Timestamp, _Lenient, _ListPage

__all__ = ["DeleteResult", "FileList", "FileObject", "ValidationReport"]


class ValidationReport(_Lenient):
    """``validation_report`` of a file: the server's check of the dataset (SDK 3.1.1, ref §1.6)."""

    valid: bool | None = None
    dataset_format: str | None = None
    dataset_has_message_weights: bool | None = None
    dataset_has_parallel_tool_calls: bool | None = None
    dataset_has_reasoning: bool | None = None
    dataset_has_sample_weights: bool | None = None
    dataset_has_tools: bool | None = None
    dataset_is_multimodal: bool | None = None
    # Present only together with error_type ("INVALID_FORMAT").
    error: str | None = None
    error_type: str | None = None
    file_id: str | None = None
    nlines: int | None = None


class FileObject(_Lenient):
    """A file: ``GET /v1/files/{id}``, ``POST /v1/files/{id}/preprocess``, ``POST /v1/files/upload`` (ref §1.6)."""

    id: str
    object: str | None = None
    created_at: Timestamp = None  # Unix seconds on the wire
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None
    file_type: str | None = Field(default=None, validation_alias=AliasChoices("FileType", "file_type"))
    # PENDING | QUEUED | RUNNING | COMPLETED | FAILED | INVALID_FORMAT; absent on old files.
    processing_status: str | None = None
    validation_report: ValidationReport | None = None
    # The April spec's readiness flag and line count; SDK 3.1.1 has neither (ref §1.6).
    processed: bool | None = Field(default=None, validation_alias=AliasChoices("Processed", "processed"))
    line_count: int | None = Field(default=None, validation_alias=AliasChoices("LineCount", "line_count"))

    @field_validator("processing_status", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def is_ready(self) -> bool:
        """Validated and usable for training (``Processed`` stands in on files from before validation)."""
        if self.processing_status is not None:
            return self.processing_status == "COMPLETED"
        return bool(self.processed)

    @property
    def is_pending(self) -> bool:
        return self.processing_status in ("PENDING", "QUEUED", "RUNNING")

    @property
    def is_rejected(self) -> bool:
        return self.processing_status in ("FAILED", "INVALID_FORMAT")


class FileList(_ListPage):
    """``GET /v1/files``: unpaginated ``{data: [...]}`` (ref §5.8)."""

    data: list[FileObject] = Field(default_factory=list)


class DeleteResult(_Lenient):
    """``DELETE /v1/files/{id}`` and ``DELETE /v1/fine-tunes/{id}``."""

    id: str | None = None
    object: str | None = None
    deleted: bool | None = None
    message: str | None = None
