"""Read a byte stream line by line with a cap on line length, so one huge line never fills memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

__all__ = ["iter_lines"]

_CHUNK = 1 << 20


def iter_lines(stream: IO[bytes], max_line: int) -> Iterator[tuple[int, bytes | int]]:
    """Yield ``(line number, raw line)``, or ``(line number, length)`` for a line over ``max_line`` bytes
    (the limit does not count the newline; the length does, so offsets add up): that one is measured in 1 MiB reads and, in a seekable stream, never held, not
    even its first ``max_line`` bytes."""
    lineno = 0
    readline = stream.readline
    first = min(_CHUNK, max_line + 1)
    while True:
        raw = readline(first)
        if not raw:
            return
        lineno += 1
        if raw.endswith(b"\n") or len(raw) < first:
            yield lineno, raw  # the common case: the whole line in one read
        else:
            yield lineno, _long_line(stream, raw, max_line)


def _long_line(stream: IO[bytes], raw: bytes, max_line: int) -> bytes | int:
    """The line that starts with ``raw``, or its length when over ``max_line``. A seekable stream is
    measured first and read once if it fits (1 MiB held while measuring, where ``readline(max_line)``
    held 150 MB twice over); another is kept in parts until it passes the cap."""
    start = stream.tell() - len(raw) if stream.seekable() else None
    length = len(raw)
    parts: list[bytes] | None = [raw] if start is None else None
    del raw
    over = False
    while True:
        part = stream.readline(_CHUNK)
        length += len(part)
        if parts is not None:
            parts.append(part)
            if length > max_line + 1:
                parts, over = None, True
        if not part or part.endswith(b"\n"):
            newline = part.endswith(b"\n")
            break
    if over or length - newline > max_line:
        return length
    if parts is not None:
        return b"".join(parts)
    assert start is not None
    stream.seek(start)
    return stream.read(length)
