"""Check a pre-tokenized Parquet file: ``input_ids`` (+ ``attention_mask``, ``labels``, ``position_ids``).

Rules: v1/v3 SDK ``_check_parquet`` (ref together-api-2026-11.md §1.5: ``input_ids`` required, only those
four columns, ≥ 1 row, not for eval), plus what breaks training later: list-of-integer columns, no empty
``input_ids``, the other columns as long as ``input_ids`` on every row. Read one record batch at a time, its
rows sized from the footer so a batch holds about ``_BATCH_VALUES`` token ids, whatever the compression: a
row group whose rows average more than ``MAX_ROW_TOKENS`` ids (a decompression bomb: a few KB of zstd that
expand to GBs of zeros) is refused from its metadata, never decompressed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from byom.data._report import Problem

__all__ = ["MAX_ROW_TOKENS", "PARQUET_COLUMNS", "check_parquet"]

PARQUET_COLUMNS = ("input_ids", "attention_mask", "labels", "position_ids")
_BATCH_ROWS = 4096
# No model's context is longer (check_training_data's max_seq_length stops at 2**20 too).
MAX_ROW_TOKENS = 1 << 20
# Token ids per column per batch: 16 MB of int64 each, whatever the row group holds.
_BATCH_VALUES = 1 << 21


def _problem(line: int | None, field: str | None, message: str, fix: str) -> Problem:
    return Problem(line=line, field=field, kind="parquet", message=message, fix=fix)


def check_parquet(path: Path, purpose: str, add: Callable[[Problem], None]) -> int:
    """Report each problem through ``add``; return the number of rows."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        add(
            _problem(
                None,
                None,
                "Checking a Parquet file needs pyarrow, which is not installed with byom-mcp.",
                "Install it beside byom-mcp (pip install pyarrow), or check a JSONL version of the data.",
            )
        )
        return 0

    if purpose == "eval":
        add(
            _problem(None, None, "Parquet files are not accepted for eval.", "Use JSONL for evaluation data.")
        )
        return 0
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        add(
            _problem(
                None,
                None,
                f"not a readable Parquet file ({type(exc).__name__}).",
                "Re-export it with pyarrow or pandas.",
            )
        )
        return 0
    names = pf.schema_arrow.names
    if "input_ids" not in names:
        add(
            _problem(
                None,
                "input_ids",
                "the Parquet file has no input_ids column.",
                "Add the token ids as input_ids.",
            )
        )
        return pf.metadata.num_rows
    extra = [n for n in names if n not in PARQUET_COLUMNS]
    if extra:
        add(
            _problem(
                None,
                extra[0],
                f"unexpected column(s) {', '.join(extra[:5])}.",
                f"Keep only {', '.join(PARQUET_COLUMNS)}.",
            )
        )
    present = [n for n in PARQUET_COLUMNS if n in names]
    for name in present:
        typ = pf.schema_arrow.field(name).type
        if not (pa.types.is_list(typ) or pa.types.is_large_list(typ)) or not pa.types.is_integer(
            typ.value_type
        ):
            add(
                _problem(
                    None,
                    name,
                    f"column {name} is {typ}, not a list of integers.",
                    "Store token ids as list<int32|int64>.",
                )
            )
            return pf.metadata.num_rows
    rows = 0
    for group in range(pf.metadata.num_row_groups):
        meta = pf.metadata.row_group(group)
        values = max(
            (
                meta.column(i).num_values
                for i in range(meta.num_columns)
                if meta.column(i).path_in_schema.split(".")[0] in present
            ),
            default=0,
        )
        if values > MAX_ROW_TOKENS * max(meta.num_rows, 1):
            add(
                _problem(
                    rows + 1,
                    None,
                    f"row group {group} holds {values:,} token ids in {meta.num_rows:,} row(s), more than "
                    f"{MAX_ROW_TOKENS:,} per row (no model's context is that long): not read, it would expand "
                    "to gigabytes.",
                    "Re-tokenize with a max_seq_length, one sample per row.",
                )
            )
            return pf.metadata.num_rows
        rows = _check_group(pf, group, present, values, rows, add)
    if rows == 0:
        add(
            Problem(
                kind="empty_file", message="the Parquet file has no rows.", fix="Add at least one sample."
            )
        )
    return rows


def _check_group(
    pf: Any, group: int, present: list[str], values: int, rows: int, add: Callable[[Problem], None]
) -> int:
    """Check one row group's rows (numbered from ``rows + 1``); return the row count so far."""
    import pyarrow.compute as pc

    num_rows = pf.metadata.row_group(group).num_rows
    batch_rows = max(1, min(_BATCH_ROWS, _BATCH_VALUES * num_rows // max(values, 1)))
    for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[group], columns=present):
        ids_len = pc.list_value_length(batch.column("input_ids")).fill_null(0)
        empty = pc.equal(ids_len, 0)
        for i in pc.indices_nonzero(empty).to_pylist():
            add(_problem(rows + i + 1, "input_ids", "input_ids is empty.", "Drop the row."))
        for name in present[1:]:
            other = pc.list_value_length(batch.column(name)).fill_null(0)
            for i in pc.indices_nonzero(pc.not_equal(other, ids_len)).to_pylist():
                add(
                    _problem(
                        rows + i + 1,
                        name,
                        f"{name} is not as long as input_ids.",
                        "Give every column one value per token.",
                    )
                )
        rows += batch.num_rows
    return rows
