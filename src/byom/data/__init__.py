"""Training-data checks: one checker (JSONL and Parquet) shared by the MCP tools, the CLI and the local engine."""

from byom.data._check import MAX_FILE_BYTES, MAX_LINE_BYTES, check_file, check_jsonl
from byom.data._report import DataReport, DatasetFormat, Problem, ProblemKind, ValidationReport

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "DataReport",
    "DatasetFormat",
    "Problem",
    "ProblemKind",
    "ValidationReport",
    "check_file",
    "check_jsonl",
]
