"""Parquet needs pyarrow, which byom-mcp does not install: without it the check says so, it does not crash."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from byom.data import check_file


def test_without_pyarrow_a_parquet_file_is_a_problem_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "train.parquet"
    path.write_bytes(b"PAR1" + b"\0" * 64 + b"PAR1")
    for name in ("pyarrow", "pyarrow.compute", "pyarrow.parquet"):
        monkeypatch.setitem(sys.modules, name, None)  # an import of it raises ImportError
    report = check_file(path)
    assert not report.valid
    assert any("pyarrow" in p.message and "pip install pyarrow" in p.fix for p in report.problems)
