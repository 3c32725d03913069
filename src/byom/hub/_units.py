"""Sizes in words for people: parameter counts (4.1K, 135M, 7.2B) and bytes (640 KB, 2.2 GB)."""

from __future__ import annotations

__all__ = ["human_bytes", "human_params"]


def _scaled(value: float, units: tuple[tuple[str, float], ...]) -> str:
    # The largest unit that keeps the value at or above 1 (after rounding), with at most three figures.
    for i, (unit, size) in enumerate(units):
        scaled = value / size
        if scaled < 0.9995 and i + 1 < len(units):
            continue
        text = f"{scaled:.1f}" if scaled < 99.95 else f"{scaled:.0f}"
        return text.removesuffix(".0") + unit
    raise ValueError("no units")


def human_params(n: int) -> str:
    """A parameter count in K/M/B/T units: 4.1K, 135M, 7.2B (counts below 1,000 as they are)."""
    if n < 1000:
        return str(n)
    return _scaled(float(n), (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)))


def human_bytes(n: float) -> str:
    """A byte size in decimal units: 640 KB, 2.2 GB (1 GB = 1e9 bytes, as MemoryEstimate uses)."""
    return _scaled(float(n), ((" TB", 1e12), (" GB", 1e9), (" MB", 1e6), (" KB", 1e3), (" B", 1)))
