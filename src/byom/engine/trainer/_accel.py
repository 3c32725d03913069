"""How the trainer uses the hardware it has: the dtype, the attention kernel, padding-free batches, Liger kernels.

    CUDA with bf16 support   ─► bfloat16 weights and compute (fp32 otherwise: fp16 would need loss scaling)
    CUDA + flash-attn        ─► attn_implementation "flash_attention_2" and padding-free micro-batches: the
                                examples of a micro-batch are one row, position ids restarting at each example,
                                so no compute is spent on padding (FA2's variable-length kernels keep them apart)
    anything else            ─► PyTorch SDPA with right-padded micro-batches. Padding-free is not used there:
                                SDPA sees one (Σ lengths)² attention block per row, which costs more than padding
    BYOM_TRAINER_LIGER=1     ─► Liger's fused kernels (RMSNorm, SwiGLU, RoPE) on CUDA, when liger-kernel is
                                installed; the loss stays ours (it is computed on label positions only)

``choose`` is the whole rule, as a pure function of what was found, so it is tested without a GPU; ``probe``
finds those facts on this machine.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["Acceleration", "apply_liger", "choose", "probe"]


@dataclass(frozen=True)
class Acceleration:
    dtype: str  # a torch dtype name: "bfloat16" or "float32"
    attention: str  # transformers' attn_implementation: "flash_attention_2" or "sdpa"
    padding_free: bool
    liger: bool
    notes: tuple[str, ...] = ()  # why something faster is off, in words

    def describe(self) -> str:
        parts = ["bf16" if self.dtype == "bfloat16" else "fp32", self.attention.replace("_", "-")]
        parts.append(
            "padding-free batches" if self.padding_free else "each batch padded to its longest sequence"
        )
        if self.liger:
            parts.append("Liger kernels")
        said = ", ".join(parts)
        return f"{said} ({'; '.join(self.notes)})" if self.notes else said


def choose(
    *,
    device_type: str,
    bf16_supported: bool,
    flash_attn_installed: bool,
    liger_installed: bool,
    liger_wanted: bool,
) -> Acceleration:
    """The fastest settings that keep the numbers: each faster path only where it is correct and faster."""
    cuda = device_type == "cuda"
    notes: list[str] = []
    dtype = "bfloat16" if cuda and bf16_supported else "float32"
    if cuda and not bf16_supported:
        notes.append("this GPU has no bf16: fp32")
    flash = cuda and flash_attn_installed
    if cuda and not flash_attn_installed:
        notes.append("flash-attn not installed: SDPA, padded")
    liger = cuda and liger_wanted and liger_installed
    if liger_wanted and not liger:
        notes.append("Liger kernels asked for but " + ("not installed" if cuda else "they need CUDA"))
    return Acceleration(
        dtype=dtype,
        attention="flash_attention_2" if flash else "sdpa",
        padding_free=flash,
        liger=liger,
        notes=tuple(notes),
    )


def probe(device: Any) -> Acceleration:
    """``choose`` with this machine's facts (the device torch picked, the packages installed)."""
    import torch

    cuda = device.type == "cuda"
    return choose(
        device_type=device.type,
        bf16_supported=cuda and torch.cuda.is_bf16_supported(),
        flash_attn_installed=importlib.util.find_spec("flash_attn") is not None,
        liger_installed=importlib.util.find_spec("liger_kernel") is not None,
        liger_wanted=os.environ.get("BYOM_TRAINER_LIGER", "") == "1",
    )


def apply_liger(model: Any) -> None:
    """Liger's kernels on this model instance, our loss kept (no fused cross-entropy: we score label positions)."""
    from liger_kernel.transformers import _apply_liger_kernel_to_instance

    _apply_liger_kernel_to_instance(model=model, cross_entropy=False, fused_linear_cross_entropy=False)
