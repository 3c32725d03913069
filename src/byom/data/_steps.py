"""The one optimizer-step rule the plan and the trainer share: one step = batch_size × gradient_accumulation_steps
sequences (a packed block, an unpacked example or a preference pair), the last partial batch included."""

from __future__ import annotations

import math

__all__ = ["optimizer_steps"]


def optimizer_steps(
    sequences: int, *, batch_size: int, gradient_accumulation_steps: int, n_epochs: int
) -> tuple[int, int]:
    """(optimizer steps per epoch, in all) for ``sequences`` a pass."""
    micro = math.ceil(sequences / max(batch_size, 1))
    per_epoch = math.ceil(micro / max(gradient_accumulation_steps, 1))
    return per_epoch, per_epoch * n_epochs
