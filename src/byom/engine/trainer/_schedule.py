"""Together's learning-rate schedules (linear / cosine with min_lr_ratio, num_cycles, warmup_ratio)."""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["lr_factor"]


def lr_factor(
    step: int,
    total_steps: int,
    *,
    kind: Literal["linear", "cosine"],
    warmup_ratio: float = 0.0,
    min_lr_ratio: float = 0.0,
    num_cycles: float = 0.5,
) -> float:
    """Multiplier of the peak learning rate at 0-based optimizer step `step`."""
    # Same shapes as transformers' get_{linear,cosine}_schedule_with_warmup (+ min_lr_rate),
    # which Together's lr_scheduler_args mirror (ref together-api.md §4.1).
    warmup = math.ceil(warmup_ratio * total_steps)
    if step < warmup:
        return (step + 1) / (warmup + 1)
    decay_steps = max(1, total_steps - warmup)
    progress = min(1.0, (step - warmup) / decay_steps)
    if kind == "linear":
        factor = 1.0 - progress
    else:
        factor = 0.5 * (1.0 + math.cos(math.pi * num_cycles * 2.0 * progress))
    return min_lr_ratio + (1.0 - min_lr_ratio) * max(0.0, factor)
