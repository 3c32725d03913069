"""``check_file``: one streaming checker for JSONL (and Parquet) training files.

A big JSONL file's worker processes start here, from its first line, before the rest of the checker
(``byom.data._checker``: the rules, the layouts, the report's pydantic models, 0.1 s to import) is loaded: they
scan while this process imports (bench/data_check.py's 200 MB file on 2 cores: 0.58 → 0.54 s; with forked workers
that need no multiprocessing, ``byom.data._scan``, 0.46 s).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from byom.data._limits import needs_assistant
from byom.data._scan import early_workers

if TYPE_CHECKING:
    from byom.data._checker import Method
    from byom.data._report import DataReport

__all__ = ["check_file", "check_jsonl"]


def check_file(
    source: Path | str | bytes,
    *,
    purpose: str = "fine-tune",
    max_problems: int = 20,
    workers: int | None = None,
    method: Method | None = None,
) -> DataReport:
    """Check a training file (a path: ``.parquet`` by extension, else JSONL; or JSONL ``bytes``).

    ``workers``: processes for a JSONL file (None: one a core for a file over 64 MiB, else 1); the report is
    the same whatever the number. ``method``: the training method the file is for ("dpo" needs preference
    pairs, "sft" cannot use them; None: either)."""
    with early_workers(source, workers, needs_assistant(purpose)) as started:
        from byom.data._checker import check_source  # loads while the workers scan

        return check_source(
            source,
            purpose=purpose,
            max_problems=max_problems,
            workers=workers,
            method=method,
            started=started,
        )


def check_jsonl(
    source: Path | str | bytes, *, purpose: str = "fine-tune", max_lines_reported: int = 1
) -> DataReport:
    """``check_file`` under its former name and keyword (callers from before the rebuild)."""
    return check_file(source, purpose=purpose, max_problems=max_lines_reported)
