"""A big JSONL file checked on several cores: the fast path (``byom.data._fast``) over byte ranges in worker
processes; the lines it does not pass go back to the parent, which runs the rules over them in file order.

Why: the fast path is CPU-bound Python around a C decoder (about 0.55 s per 200 MiB here); one core cannot do
much better, and a 2 GB file took 8 s on one. Each worker returns only counts and the positions of the lines it
did not pass, so the parent's line numbers, problems and their order are exactly the sequential check's
(``tests/data/test_scan_parallel.py`` compares the two on the same files).

Workers are forked where that is safe (Linux, a single-threaded process: the CLI and the benchmark), else
spawned (the MCP server and the engine check files from a worker thread); anything that goes wrong with the
pool (no processes allowed, a worker killed) falls back to checking that range in the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from array import array
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import IO

from byom.data._fast import fast_checker
from byom.data._lines import iter_lines
from byom.data._report import DatasetFormat

__all__ = ["READ_BUFFER", "Chunk", "ChunkScan", "auto_workers", "forks", "line_at", "scan_chunks", "split"]

# readline() on the default 8 KiB buffer costs 3x more than on 64 KiB (measured: 0.21 s vs 0.07 s for 200 MB).
READ_BUFFER = 1 << 16
# Below this, starting processes costs more than it saves (a spawned worker needs ~0.3 s to import).
PARALLEL_MIN_BYTES = 64 * 2**20
_MIN_CHUNK_BYTES = 32 * 2**20
_MAX_WORKERS = 8
# A worker keeps at most this many positions of lines it did not pass (16 bytes each), then stops and leaves
# the rest of its range to the parent: memory stays flat however bad the file is.
MAX_FAILS = 10_000
_NO_KEYS = (0, 0, 0)


@dataclass(frozen=True)
class Chunk:
    start: int  # the offset of a line's first byte
    end: int  # the offset just past a line's newline, or the file's size


@dataclass
class ChunkScan:
    """What the fast path saw in one chunk: the lines it read, their flag bits and hashes, and where each line it
    did not pass starts (its index within the chunk and its offset). ``stop``: the offset it stopped at, having
    recorded ``MAX_FAILS`` lines; the parent checks from there to the chunk's end."""

    chunk: Chunk
    lines: int = 0
    bits: int = 0
    fail_index: array[int] = field(default_factory=lambda: array("q"))
    fail_offset: array[int] = field(default_factory=lambda: array("q"))
    # 3 a line (byom.data._repeats), 0s where the fast path failed: 24 bytes a line, the one part of a chunk's
    # answer that grows with the file (about 20 MB for the 2 GB benchmark file).
    keys: array[int] = field(default_factory=lambda: array("Q"))
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


def split(stream: IO[bytes], start: int, size: int, parts: int) -> list[Chunk]:
    """``[start, size)`` cut into ``parts`` ranges of whole lines (fewer when lines are long)."""
    cuts = [start]
    for i in range(1, parts):
        target = start + (size - start) * i // parts
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
    path: str, chunk: Chunk, fmt: DatasetFormat, need_assistant: bool, max_line: int, stable: bool = False
) -> ChunkScan:
    """The fast path over one chunk (in a worker, or in the parent); ``stable``: hash keys for spawned workers."""
    fast = fast_checker(fmt)
    assert fast is not None
    scan = ChunkScan(chunk)
    pos, index, bits = chunk.start, 0, 0
    fails_i, fails_o, keys = scan.fail_index, scan.fail_offset, scan.keys
    line_keys = [0, 0, 0]
    with open(path, "rb", buffering=READ_BUFFER) as stream:
        stream.seek(pos)
        for _, raw in iter_lines(stream, max_line):
            if pos >= chunk.end:
                break
            if isinstance(raw, bytes):
                line_bits, length = fast(raw, need_assistant, line_keys, stable), len(raw)
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
            pos += length
            index += 1
    scan.lines, scan.bits = index, bits
    return scan


def forks() -> bool:
    """Are workers forked here (sharing this process's hash salt), or spawned?"""
    # fork is fast (no re-import) but unsafe in a threaded process, and on macOS whatever the threads.
    return sys.platform == "linux" and threading.active_count() == 1


def _context() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context("fork" if forks() else "spawn")


def scan_chunks(
    path: Path,
    chunks: list[Chunk],
    fmt: DatasetFormat,
    need_assistant: bool,
    max_line: int,
    stable: bool = False,
) -> Iterator[ChunkScan]:
    """Each chunk's scan, in file order: the first in this process while workers take the others."""
    args = (fmt, need_assistant, max_line, stable)
    futures: list[Future[ChunkScan] | None] = [None] * len(chunks)
    pool: ProcessPoolExecutor | None = None
    if len(chunks) > 1:
        try:
            pool = ProcessPoolExecutor(len(chunks) - 1, mp_context=_context())
            for i, chunk in enumerate(chunks[1:], 1):
                futures[i] = pool.submit(scan_chunk, str(path), chunk, *args)
        except (OSError, RuntimeError):  # no processes here (a sandbox, a frozen app): this process does all
            pass
    try:
        for chunk, future in zip(chunks, futures, strict=True):
            scan: ChunkScan | None = None
            if future is not None:
                try:
                    scan = future.result()
                except (BrokenProcessPool, OSError):  # a worker died (killed, out of memory): check here
                    scan = None
            yield scan if scan is not None else scan_chunk(str(path), chunk, *args)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
