"""Memory a model needs to fine-tune (full, LoRA) and to serve, from its parameter count."""

from __future__ import annotations

from ._models import MemoryEstimate

__all__ = ["memory_estimate"]


def _round_gb(gb: float) -> float:
    # Two decimals, unless that rounds to 0: then three significant figures, so a 4K-parameter model is not 0 GB.
    return round(gb, 2) or float(f"{gb:.3g}")


def memory_estimate(count: int | None) -> MemoryEstimate | None:
    """Rough memory for full fine-tuning, LoRA and inference of a model of ``count`` parameters."""
    if not count:
        return None
    gb = count / 1e9
    return MemoryEstimate(
        full_finetune_gb=_round_gb(gb * 16),
        lora_gb=_round_gb(gb * 2),
        inference_gb=_round_gb(gb * 2 * 1.2),
        formula="full = params x 16 B (Adam, mixed precision); LoRA = params x 2 B (frozen bf16 base) + adapter; "
        "inference = params x 2 B (bf16) x 1.2; activations excluded (they grow with sequence length and batch)",
        source="accelerate estimate-memory (Adam, 16 B/param); LLaMA-Factory hardware table (LoRA 2x GB per B params); "
        "bf16 weights + 20% overhead",
    )
