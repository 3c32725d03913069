"""Training data: one checker (JSONL and Parquet), and rows → tokens/labels, token statistics and the loss
preview, shared by the MCP tools, the CLI, the local engine and its trainer."""

from typing import TYPE_CHECKING, Any

from byom.data._checkup import (
    ConvertedCopy,
    DataCheck,
    PreviewShown,
    bounded_previews,
    check_training_file,
    render_data_check,
)
from byom.data._paths import is_local_path, local_data_path
from byom.data._render import render_data_report, render_previews, render_token_stats
from byom.data._report import Conversion, DataReport, DatasetFormat, Problem, ProblemKind, ValidationReport
from byom.data._seqlen import DEFAULT_SEQ, SeqLength, context_length, decide_max_seq_length, tokenizer_limit
from byom.data._steps import optimizer_steps
from byom.data._tokens import (
    IGNORE,
    Encoded,
    PreviewRow,
    RowPreview,
    TokenStats,
    TrainOnInputs,
    encode_preference,
    encode_row,
    iter_rows,
    load_counting_tokenizer,
    load_model_config,
    load_tokenizer,
    preview,
    preview_row,
    token_stats,
)

if TYPE_CHECKING:
    from byom.data._check import MAX_FILE_BYTES, MAX_LINE_BYTES, check_file, check_jsonl

__all__ = [
    "DEFAULT_SEQ",
    "IGNORE",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "Conversion",
    "ConvertedCopy",
    "DataCheck",
    "DataReport",
    "DatasetFormat",
    "Encoded",
    "PreviewRow",
    "PreviewShown",
    "Problem",
    "ProblemKind",
    "RowPreview",
    "SeqLength",
    "TokenStats",
    "TrainOnInputs",
    "ValidationReport",
    "bounded_previews",
    "check_file",
    "check_jsonl",
    "check_training_file",
    "context_length",
    "decide_max_seq_length",
    "encode_preference",
    "encode_row",
    "is_local_path",
    "iter_rows",
    "load_counting_tokenizer",
    "load_model_config",
    "load_tokenizer",
    "local_data_path",
    "optimizer_steps",
    "preview",
    "preview_row",
    "render_data_check",
    "render_data_report",
    "render_previews",
    "render_token_stats",
    "token_stats",
    "tokenizer_limit",
]


def __getattr__(name: str) -> Any:
    # The checker (msgspec, the layouts, the parallel scan) loads on the first check, not at server start-up.
    if name in ("MAX_FILE_BYTES", "MAX_LINE_BYTES", "check_file", "check_jsonl"):
        from byom.data import _check

        return getattr(_check, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
