"""Read a byte stream line by line with a cap on line length, so one huge line never fills memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

__all__ = ["iter_lines"]

_SKIP_CHUNK = 1 << 20


def iter_lines(stream: IO[bytes], max_line: int) -> Iterator[tuple[int, bytes | int]]:
    """Yield ``(line number, raw line)``, or ``(line number, length)`` for a line over ``max_line`` bytes:
    that one is skipped in 1 MiB reads and never held whole."""
    lineno = 0
    readline = stream.readline
    while True:
        raw = readline(max_line + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) > max_line and not raw.endswith(b"\n"):
            length = len(raw)
            del raw
            while True:
                part = readline(_SKIP_CHUNK)
                length += len(part)
                if not part or part.endswith(b"\n"):
                    break
            yield lineno, length
        else:
            yield lineno, raw
