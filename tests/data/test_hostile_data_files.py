"""Hostile training files: a JSONL whose first line is 500 MB, a Parquet decompression bomb.

Each answer is a clear problem within a time bound, and the peak memory of the process that checked it
(``VmHWM`` of a fresh process, or the engine's own, from /proc) stays within ``MEMORY_BOUND`` of its
baseline: an over-long line is measured in 1 MiB reads (``byom.data._lines``), a row group whose rows
average more than ``MAX_ROW_TOKENS`` ids is refused from the Parquet footer (``byom.data._parquet``).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.types import CallToolResult

import byom
from byom.config import Settings
from byom.data import check_file
from byom.data._lines import iter_lines
from byom.data._parquet import MAX_ROW_TOKENS
from byom.server import build_server
from support.engine import HANG_S, EngineProcess, wait_file_sync
from support.tool_calls import text_of

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak RSS read from /proc")

LINE_MB = 500
MEMORY_BOUND = 200 << 20  # what checking may add to a process's peak RSS (measured: under 10 MB)
TIME_BOUND_S = 60.0  # failsafe for a loaded 2-core machine (measured: about 1 s for the check itself)
_SRC = str(Path(byom.__file__).resolve().parents[1])


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH")) if p)}


def _status(key: str, pid: int | str = "self") -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(key + r":\s+(\d+)", text).group(1)) * 1024  # type: ignore[union-attr]


def _reset_peak() -> int:
    """Reset this process's VmHWM to its current RSS (Linux clear_refs); return that RSS."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("cannot reset the peak RSS here (/proc/self/clear_refs)")
    return _status("VmRSS")


async def _check_with_tool(path: Path, small: Path, tmp: Path) -> tuple[CallToolResult, int, float]:
    """check_training_data on ``path`` over an in-memory MCP client: (result, peak RSS rise, seconds), after
    a warm-up call on ``small`` so imports and caches are not counted."""
    settings = Settings(
        data_dir=tmp / "byom", cache_dir=tmp / "cache", backend_choice="local", engine_autostart=False
    )
    async with Client(build_server(settings)) as client:
        await client.call_tool("check_training_data", {"path": str(small)})
        base = _reset_peak()
        start = time.monotonic()
        result = await client.call_tool("check_training_data", {"path": str(path)})
        took = time.monotonic() - start
        rise = _status("VmHWM") - base
    print(f"check_training_data {path.name}: {took:.2f} s, peak RSS +{rise / 2**20:.1f} MiB")
    return result, rise, took


def _cli_peak(path: Path) -> tuple[int, float, str, int]:
    """``byom check-data PATH`` in a fresh process: (its peak RSS, seconds, stdout, exit code).

    The peak is read from os.wait4's rusage of that one child (not RUSAGE_CHILDREN, the maximum over every
    child this test process ever reaped)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "byom", "check-data", str(path)],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss * 1024, time.monotonic() - start, out, proc.returncode


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text(json.dumps({"text": "ok"}) + "\n")
    return path


@pytest.fixture
def huge_line(tmp_path: Path) -> Iterator[Path]:
    """A JSONL whose line 1 is a 500 MB text sample, written in 1 MiB chunks; deleted after the test."""
    path = tmp_path / "huge-line.jsonl"
    chunk = b"a" * (1 << 20)
    with path.open("wb") as fh:
        fh.write(b'{"text": "')
        for _ in range(LINE_MB):
            fh.write(chunk)
        fh.write(b'"}\n{"text": "ok"}\n')
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _says_line_1_too_long(text: str) -> None:
    assert "line 1" in text.lower() or "Line 1" in text, text[:2000]
    assert f"{LINE_MB} MiB" in text and "149 MiB per line" in text, text[:2000]


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_500_mb_line_is_a_clear_error_with_bounded_memory_in_the_tool_and_the_cli(
    huge_line: Path, small: Path, tmp_path: Path
) -> None:
    result, rise, took = await _check_with_tool(huge_line, small, tmp_path)
    assert not result.is_error  # a report, with the problem in it
    structured = result.structured_content
    assert structured is not None
    (problem,) = [p for p in structured["report"]["problems"] if p["kind"] == "line_too_long"]
    assert problem["line"] == 1 and not structured["report"]["valid"]
    _says_line_1_too_long(text_of(result))
    assert rise < MEMORY_BOUND and took < TIME_BOUND_S

    # The CLI: its peak against the same command on a one-line file.
    base, _, _, _ = _cli_peak(small)
    peak, took, out, code = _cli_peak(huge_line)
    print(f"byom check-data: {took:.2f} s, peak RSS +{(peak - base) / 2**20:.1f} MiB")
    assert code == 1, out
    _says_line_1_too_long(out)
    assert peak - base < MEMORY_BOUND, (peak, base)
    assert took < TIME_BOUND_S


@pytest.mark.slow
def test_the_engine_validates_a_500_mb_line_upload_with_bounded_memory(
    huge_line: Path, tmp_path: Path
) -> None:
    engine = EngineProcess(tmp_path / "engine", tmp_path).start()
    try:
        auth = {"Authorization": f"Bearer {engine.key}"}
        with httpx2.Client(base_url=engine.url, headers=auth, timeout=HANG_S) as http:
            form = {"purpose": "fine-tune", "file_name": huge_line.name, "file_type": "jsonl"}
            r = http.post("/v1/files", files={k: (None, v) for k, v in form.items()})
            assert r.status_code == 302, r.text
            file_id = r.headers["x-together-file-id"]

            def body() -> Iterator[bytes]:
                with huge_line.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        yield chunk

            put = http.put(
                r.headers["location"],
                content=body(),
                headers={"Authorization": "", "Content-Length": str(huge_line.stat().st_size)},
            )
            assert put.status_code == 200, put.text
            assert engine.proc is not None
            base = _status(
                "VmHWM", engine.proc.pid
            )  # the upload itself is the engine's to bound; this is the check
            start = time.monotonic()
            r = http.post(f"/v1/files/{file_id}/preprocess")
            assert r.status_code == 200, r.text
            got = wait_file_sync(http, file_id)
            took = time.monotonic() - start
            peak = _status("VmHWM", engine.proc.pid)
    finally:
        engine.stop()
    print(f"engine validation: {took:.2f} s, peak RSS +{(peak - base) / 2**20:.1f} MiB")
    assert got["processing_status"] != "COMPLETED", got
    text = json.dumps(got)
    assert "line 1" in text.lower() and "too long" in text.lower() or "MiB" in text, text[:2000]
    assert peak - base < MEMORY_BOUND, (peak, base)
    assert took < TIME_BOUND_S


# -- the line reader itself ---------------------------------------------------------------------------------


class _Pipe(io.RawIOBase):
    """A stream that cannot seek (a pipe), over bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)


@pytest.mark.parametrize("seekable", [True, False], ids=["file", "pipe"])
def test_long_lines_under_the_cap_come_back_whole(seekable: bool) -> None:
    long = b"{" + b"y" * (3 << 20) + b"}\n"
    over = b"z" * (5 << 20) + b"\n"
    data = b"a\n" + long + over + b"b\n" + b"c" * (2 << 20)  # the last line has no newline
    stream: io.BufferedIOBase = io.BytesIO(data) if seekable else io.BufferedReader(_Pipe(data))
    got = list(iter_lines(stream, 4 << 20))
    assert got == [(1, b"a\n"), (2, long), (3, len(over)), (4, b"b\n"), (5, b"c" * (2 << 20))]


def test_a_line_of_exactly_the_cap_is_kept() -> None:
    line = b"x" * (3 << 20)
    got = list(iter_lines(io.BytesIO(line + b"\n" + line), 3 << 20))
    assert got == [(1, line + b"\n"), (2, line)]
    assert list(iter_lines(io.BytesIO(line + b"y\n"), 3 << 20)) == [(1, (3 << 20) + 2)]


# -- a Parquet decompression bomb ---------------------------------------------------------------------------


def _bomb(path: Path, values: int, rows: int = 1) -> Path:
    """``rows`` rows of input_ids holding ``values`` zeros in all: kilobytes of zstd, gigabytes once read."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    offsets = pa.array(np.linspace(0, values, rows + 1).astype(np.int64))
    ids = pa.LargeListArray.from_arrays(offsets, pa.array(np.zeros(values, dtype=np.int64)))
    pq.write_table(pa.table({"input_ids": ids}), path, compression="zstd")
    return path


@pytest.mark.anyio
async def test_a_parquet_bomb_is_refused_from_its_footer(tmp_path: Path, small: Path) -> None:
    pytest.importorskip("pyarrow")
    bomb = _bomb(tmp_path / "bomb.parquet", 1 << 25)  # 256 MiB of int64 zeros in one row
    assert bomb.stat().st_size < 100_000
    result, rise, took = await _check_with_tool(bomb, small, tmp_path)
    text = text_of(result)
    assert "33,554,432 token ids in 1 row(s)" in text and "not read" in text, text
    assert rise < MEMORY_BOUND and took < TIME_BOUND_S


def test_long_rows_under_the_limit_are_read_in_small_batches(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    # 64 rows of 2**19 ids (a 2**25-value row group, 256 MB as int64): valid, checked a few rows at a time.
    path = _bomb(tmp_path / "long.parquet", 1 << 25, rows=64)
    report = check_file(path)
    assert report.valid and report.nlines == 64, report.problems
    over = _bomb(tmp_path / "over.parquet", (MAX_ROW_TOKENS + 1) * 2, rows=2)
    (problem,) = check_file(over).problems
    assert "more than 1,048,576 per row" in problem.message and problem.fix
