"""A big JSONL file checked on several cores: the parent runs the fast path (``byom.data._fast``) over the first
byte range while worker processes run it over the others; the lines the fast path did not pass go to the rules
in the parent, in file order.

Why: the fast path is CPU-bound Python around a C decoder; one core cannot do much better, and a 2 GB file took
8 s on one. Each worker returns only counts and the positions of the lines it did not pass, so the parent's line
numbers, problems and their order are exactly the sequential check's (``tests/data/test_scan_parallel.py``
compares the two on the same files).

Memory stays flat however big the file: a worker writes each line's repeat keys (``byom.data._repeats``, 24
bytes a line) to a file in a temporary folder (1% of the file's size), ``KEYS_BATCH`` lines at a time, and the parent reads them back a
batch at a time (they had been held, and pickled, whole: +34 MB for the parent and +26 MB a worker at 2 GB).

Workers are forked where that is safe (Linux, a single-threaded process: the CLI and the benchmark), else
spawned (the MCP server and the engine check files from a worker thread); anything that goes wrong with them
(no processes allowed, a worker killed) falls back to checking that range in the parent. ``check_file`` starts
them from the file's first line, before the rest of the checker loads (``early_workers``): this module and the
fast path import neither pydantic nor the rules.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import tempfile
import threading
from array import array
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import IO, TYPE_CHECKING

from byom.data._fast import fast_checker, fast_format
from byom.data._limits import MAX_FILE_BYTES, MAX_LINE_BYTES
from byom.data._lines import iter_lines
from byom.data._paths import data_file_type

if TYPE_CHECKING:
    from byom.data._report import DatasetFormat

__all__ = [
    "PARENT_SHARE",
    "READ_BUFFER",
    "Chunk",
    "ChunkScan",
    "Workers",
    "auto_workers",
    "chunk_keys",
    "early_workers",
    "line_at",
    "split",
    "start_workers",
]

# readline() on the default 8 KiB buffer costs 3x more than on 64 KiB (measured: 0.21 s vs 0.07 s for 200 MB).
READ_BUFFER = 1 << 16
# Below this, starting processes costs more than it saves (a spawned worker needs ~0.3 s to import).
PARALLEL_MIN_BYTES = 64 * 2**20
_MIN_CHUNK_BYTES = 32 * 2**20
_MAX_WORKERS = 8
# A worker keeps at most this many positions of lines it did not pass (16 bytes each), then stops and leaves
# the rest of its range to the parent: memory stays flat however bad the file is.
MAX_FAILS = 10_000
# Keys go through the spill file this many lines at a time (1.5 MiB of them in memory at once).
KEYS_BATCH = 1 << 16
_NO_KEYS = (0, 0, 0)
# The first range, which this process checks itself, against a worker's: this process also loads the rest of the
# checker, starts the pool and counts the workers' keys (best measured on 2 cores: 0.7-0.8).
PARENT_SHARE = 0.75


@dataclass(frozen=True)
class Chunk:
    start: int  # the offset of a line's first byte
    end: int  # the offset just past a line's newline, or the file's size


@dataclass
class ChunkScan:
    """What the fast path saw in one chunk: the lines it read, their flag bits, and where each line it did not
    pass starts (its index within the chunk and its offset); ``keys_path``: the file with each line's 3 repeat
    keys (0s where the fast path failed; ``chunk_keys`` reads them). ``stop``: the offset it stopped at, having
    recorded ``MAX_FAILS`` lines; the parent checks from there to the chunk's end."""

    chunk: Chunk
    keys_path: str
    lines: int = 0
    bits: int = 0
    fail_index: array[int] = field(default_factory=lambda: array("q"))
    fail_offset: array[int] = field(default_factory=lambda: array("q"))
    stop: int | None = None


def auto_workers(size: int) -> int:
    """How many processes to check a file of ``size`` bytes with: 1 below ``PARALLEL_MIN_BYTES``, else one a
    usable core, each with at least 32 MiB."""
    if size < PARALLEL_MIN_BYTES:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_WORKERS, size // _MIN_CHUNK_BYTES))


def split(stream: IO[bytes], start: int, size: int, parts: int, first: float = 1.0) -> list[Chunk]:
    """``[start, size)`` cut into ``parts`` ranges of whole lines (fewer when lines are long), the first ``first``
    times as long as each of the others."""
    cuts = [start]
    whole = first + parts - 1
    for i in range(1, parts):
        target = start + int((size - start) * (first + i - 1) / whole)
        if target <= cuts[-1]:
            continue
        stream.seek(target - 1)
        # The line that holds the byte before the target ends the chunk; a huge one is skipped, not held.
        for _ in iter_lines(stream, READ_BUFFER):
            break
        cut = stream.tell()
        if cuts[-1] < cut < size:
            cuts.append(cut)
    cuts.append(size)
    return [Chunk(a, b) for a, b in pairwise(cuts)]


def line_at(stream: IO[bytes], offset: int, max_line: int) -> bytes | int:
    """The line that starts at ``offset`` (or its length, when it is over ``max_line``)."""
    stream.seek(offset)
    for _, raw in iter_lines(stream, max_line):
        return raw
    return b""


def scan_chunk(
    path: str, chunk: Chunk, fmt: DatasetFormat, need_assistant: bool, max_line: int, keys_path: str
) -> ChunkScan:
    """The fast path over one chunk (in a worker, or in the parent), its keys written to ``keys_path``."""
    fast = fast_checker(fmt)
    assert fast is not None
    scan = ChunkScan(chunk, keys_path)
    pos, index, bits = chunk.start, 0, 0
    fails_i, fails_o, keys = scan.fail_index, scan.fail_offset, array("Q")
    line_keys = [0, 0, 0]
    batch = 3 * KEYS_BATCH
    with open(path, "rb", buffering=READ_BUFFER) as stream, open(keys_path, "wb") as sink:
        stream.seek(pos)
        for _, raw in iter_lines(stream, max_line):
            if pos >= chunk.end:
                break
            if isinstance(raw, bytes):
                line_bits, length = fast(raw, need_assistant, line_keys), len(raw)
            else:
                line_bits, length = None, raw  # over max_line: its length
            if line_bits is None:
                if len(fails_i) == MAX_FAILS:
                    scan.stop = pos
                    break
                fails_i.append(index)
                fails_o.append(pos)
                keys.extend(_NO_KEYS)
            else:
                bits |= line_bits
                keys.extend(line_keys)
            if len(keys) == batch:
                keys.tofile(sink)
                del keys[:]
            pos += length
            index += 1
        keys.tofile(sink)
    scan.lines, scan.bits = index, bits
    return scan


def chunk_keys(scan: ChunkScan) -> Iterator[tuple[int, int, int]]:
    """The ``(row, prompt, answer)`` keys of each line of a scanned chunk, read back ``KEYS_BATCH`` at a time."""
    with open(scan.keys_path, "rb") as source:
        while True:
            keys = array("Q")
            try:
                keys.fromfile(source, 3 * KEYS_BATCH)
            except EOFError:  # the last batch is shorter: what there was is read all the same
                pass
            if not keys:
                return
            it = iter(keys)
            yield from zip(it, it, it)


def _forks() -> bool:
    """Are workers forked here, or spawned?"""
    # fork is fast (no re-import) but unsafe in a threaded process, and on macOS whatever the threads.
    return sys.platform == "linux" and threading.active_count() == 1


_Job = tuple[str, Chunk, "DatasetFormat", bool, int, str]  # scan_chunk's arguments


class _Forked:
    """Chunks scanned in forked child processes, each ``ChunkScan`` sent back pickled through a pipe: this
    process needs neither ``multiprocessing`` nor ``concurrent.futures`` (17 ms to import, before the first
    worker could start: 4% of the 200 MB check)."""

    def __init__(self, jobs: list[_Job]) -> None:
        self._pids: list[int | None] = []  # None once reaped
        self._reads: list[int | None] = []  # each pipe's read end; None once read or closed
        try:
            for job in jobs:
                self._fork(job)
        except OSError:  # no more processes: end the ones started, and let this process scan it all
            self.close()
            raise

    def _fork(self, job: _Job) -> None:
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the child: scan, send, and leave without the parent's exit handlers or buffers
            code = 1
            try:
                for sibling in [read_end, *(r for r in self._reads if r is not None)]:
                    os.close(sibling)
                with open(write_end, "wb") as out:
                    out.write(pickle.dumps(scan_chunk(*job)))
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        self._pids.append(pid)
        self._reads.append(read_end)

    def result(self, i: int) -> ChunkScan | None:
        """Chunk ``i``'s scan; None where its child did not finish (killed, out of memory)."""
        read_end, pid = self._reads[i], self._pids[i]
        if read_end is None or pid is None:
            return None
        self._reads[i] = None  # the with below closes it, whatever happens
        with open(read_end, "rb") as source:
            data = source.read()
        _, status = os.waitpid(pid, 0)
        self._pids[i] = None
        return pickle.loads(data) if status == 0 and data else None

    def close(self, wait: bool = True) -> None:
        """Every child not yet reaped (its result unread: the check ended early, or was interrupted reading it) is
        killed and reaped; at once, whatever ``wait``."""
        for i, read_end in enumerate(self._reads):
            if read_end is not None:
                os.close(read_end)
                self._reads[i] = None
        for i, pid in enumerate(self._pids):
            if pid is not None:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with suppress(ChildProcessError):  # reaped already (a SIGCHLD handler of the host's)
                    os.waitpid(pid, 0)
                self._pids[i] = None


class _Spawned:
    """Chunks scanned by a pool of spawned processes (a threaded process must not fork; macOS and Windows do
    not), each re-importing only this module and the fast path."""

    def __init__(self, jobs: list[_Job]) -> None:
        import multiprocessing  # 17 ms: loaded only where workers are spawned
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(len(jobs), mp_context=multiprocessing.get_context("spawn"))
        try:
            self._futures = [self._pool.submit(scan_chunk, *job) for job in jobs]
        except BaseException:  # the pool started some processes, then could not start another
            self._pool.shutdown(wait=False, cancel_futures=True)
            raise

    def result(self, i: int) -> ChunkScan | None:
        """Chunk ``i``'s scan; None where its worker died (killed, out of memory: BrokenProcessPool)."""
        try:
            return self._futures[i].result()
        except (RuntimeError, OSError):
            return None

    def close(self, wait: bool = True) -> None:
        """End the pool; ``wait=False``: without waiting for scans already running (they end on their own)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)


class Workers:
    """Worker processes scanning the chunks of a range after the first, which this process scans itself (its
    workers' share is bigger: this process also loads the checker and counts every chunk's keys); ``scans()``
    gives the chunks' scans in file order (a chunk whose worker could not run is scanned in this process then).
    Made by ``start_workers``, which ends the workers and removes the keys' folder on leaving."""

    def __init__(
        self, path: Path, chunks: list[Chunk], fmt: DatasetFormat, need_assistant: bool, spill: str
    ) -> None:
        self.path, self.chunks, self.fmt, self.need_assistant = path, chunks, fmt, need_assistant
        self._jobs: list[_Job] = [
            (str(path), chunk, fmt, need_assistant, MAX_LINE_BYTES, os.path.join(spill, f"keys-{i}"))
            for i, chunk in enumerate(chunks)
        ]
        self._workers: _Forked | _Spawned | None = None
        if len(chunks) > 1:
            try:
                self._workers = (_Forked if _forks() else _Spawned)(self._jobs[1:])
            except (OSError, RuntimeError):
                pass  # no processes here (a sandbox, a frozen app): this process does all

    def matches(self, fmt: DatasetFormat, start: int, size: int, need_assistant: bool) -> bool:
        """Do these workers scan what a check that has read up to ``start`` of a ``size``-byte file in ``fmt``
        would start them on? (Not where the file grew or shrank meanwhile, or the check decided otherwise.)"""
        return (self.fmt, self.chunks[0].start, self.chunks[-1].end, self.need_assistant) == (
            fmt,
            start,
            size,
            need_assistant,
        )

    def scans(self) -> Iterator[ChunkScan]:
        for i, job in enumerate(self._jobs):
            scan = self._workers.result(i - 1) if i and self._workers is not None else None
            yield scan_chunk(*job) if scan is None else scan

    def close(self, wait: bool = True) -> None:
        """End the workers (at once where forked; a spawned pool's running scans waited for unless not ``wait``).
        The first call decides; scans() after it are made in this process."""
        if self._workers is not None:
            self._workers.close(wait)
            self._workers = None


@contextmanager
def start_workers(
    path: Path, stream: IO[bytes], start: int, size: int, parts: int, fmt: DatasetFormat, need_assistant: bool
) -> Iterator[Workers | None]:
    """``[start, size)`` of the file at ``path`` (open as ``stream``) cut into ``parts`` chunks, a worker process
    started on each but the first (``Workers``); None where there is no temporary folder for their keys, or the
    file cannot be read where it is cut (this process then checks it all, and says what its own read met)."""
    try:
        spill = tempfile.TemporaryDirectory(prefix="byom-check-")
    except OSError:  # gone, read-only
        yield None
        return
    with spill:
        try:
            chunks = split(stream, start, size, parts, PARENT_SHARE)
        except OSError:
            chunks = []
        if not chunks:
            yield None
            return
        workers = Workers(path, chunks, fmt, need_assistant, spill.name)
        try:
            yield workers
        finally:
            workers.close()


@contextmanager
def early_workers(
    source: Path | str | bytes, parts: int | None, need_assistant: bool
) -> Iterator[Workers | None]:
    """Workers started on a big JSONL file before the rest of the checker (the rules, the report's models) is
    loaded, as soon as its first line shows the format: they scan while this process imports. None where the
    file is small or not JSONL, cannot be read, or its first line does not pass a fast path (the checker then
    starts them after the rules have read the head, or says what is wrong)."""
    if isinstance(source, (bytes, bytearray)):
        yield None
        return
    path = Path(source)
    try:
        size = path.stat().st_size
        regular = path.is_file()
    except (OSError, ValueError):
        regular = False
    parts = auto_workers(size) if regular and parts is None else parts
    if not regular or parts is None or parts < 2 or size > MAX_FILE_BYTES or data_file_type(path) != "jsonl":
        yield None
        return
    try:
        stream = path.open("rb", buffering=READ_BUFFER)
    except OSError:
        yield None
        return
    with stream:
        fmt, length = _head_format(stream, need_assistant)
        if fmt is None:
            yield None
            return
        with start_workers(path, stream, length, size, parts, fmt, need_assistant) as workers:
            yield workers


def _head_format(stream: IO[bytes], need_assistant: bool) -> tuple[DatasetFormat | None, int]:
    """The format whose fast path line 1 passes, and its length; (None, 0) where it passes none or cannot be
    read. (A function of its own: a long first line is not held through the check.)"""
    try:
        _, head = next(iter_lines(stream, MAX_LINE_BYTES), (0, b""))
    except OSError:
        return None, 0
    if not isinstance(head, bytes):
        return None, 0
    return fast_format(head, need_assistant), len(head)
