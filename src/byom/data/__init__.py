"""Training-data checks: one JSONL checker shared by the MCP tools and the local engine."""

from byom.data._check import MAX_FILE_BYTES, check_jsonl
from byom.data._report import DatasetFormat, ValidationReport

__all__ = ["MAX_FILE_BYTES", "DatasetFormat", "ValidationReport", "check_jsonl"]
