"""Check a pre-tokenized Parquet file: ``input_ids`` (+ ``attention_mask``, ``labels``, ``position_ids``).

Rules: v1/v3 SDK ``_check_parquet`` (ref together-api-2026-11.md §1.5: ``input_ids`` required, only those
four columns, ≥ 1 row, not for eval), plus what breaks training later: list-of-integer columns, no empty
``input_ids``, the other columns as long as ``input_ids`` on every row. Read one record batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from byom.data._report import Problem

__all__ = ["PARQUET_COLUMNS", "check_parquet"]

PARQUET_COLUMNS = ("input_ids", "attention_mask", "labels", "position_ids")
_BATCH_ROWS = 4096


def _problem(line: int | None, field: str | None, message: str, fix: str) -> Problem:
    return Problem(line=line, field=field, kind="parquet", message=message, fix=fix)


def check_parquet(path: Path, purpose: str, add: Callable[[Problem], None]) -> int:
    """Report each problem through ``add``; return the number of rows."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
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
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=present):
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
    if rows == 0:
        add(
            Problem(
                kind="empty_file", message="the Parquet file has no rows.", fix="Add at least one sample."
            )
        )
    return rows
