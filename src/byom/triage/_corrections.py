"""Corrected create_finetune calls, computed from the job, the model's memory estimate, the catalog and the
numbers the error message itself states; never a guess. No call when the facts to compute one are missing.

Only numbers are taken from the (untrusted) error text, and each is bounded; names (a base model) come only
from the catalog.
"""

from __future__ import annotations

import re

from byom.catalog import base_limits, recommend_for_report
from byom.triage._catalog import Correction
from byom.triage._models import CorrectedCall, JobContext

__all__ = ["corrected_call", "data_lines", "gpu_memory_from_text"]

_MAX_SEQ = 1_048_576
_MIN_SEQ = 512  # below this a chat sample rarely fits; shorten the data instead
_LINE = re.compile(r"\bline (\d{1,9})\b", re.IGNORECASE)
_GPU_TOTAL = re.compile(r"total capacity of (\d+(?:\.\d+)?) (GiB|MiB)", re.IGNORECASE)
_CONTEXT = [
    re.compile(r"context of .{0,300}?\((\d{2,9}) tokens", re.IGNORECASE),  # the engine's plan check
    re.compile(r"max_seq_length\s*(?:≤|<=)\s*(\d{2,9})", re.IGNORECASE),
    re.compile(r"maximum sequence length for this model \((\d{1,9}) > (\d{2,9})\)", re.IGNORECASE),
]
_RANGE = re.compile(
    r"(?P<param>[\w.]+)=(?P<value>[-+\w.]+) is outside the allowed range for this model: "
    r"(?P<low>[-+\d.e]+) to (?P<high>[-+\d.e]+)",
    re.IGNORECASE,
)
# Engine parameter names → create_finetune argument names, and whether they are integers.
_RANGE_PARAMS = {
    "batch_size": ("batch_size", True),
    "learning_rate": ("learning_rate", False),
    "n_epochs": ("n_epochs", True),
    "n_checkpoints": ("n_checkpoints", True),
    "n_evals": ("n_evals", True),
    "max_seq_length": ("max_seq_length", True),
    "training_type.lora_r": ("lora_r", True),
}


def data_lines(text: str, limit: int = 20) -> list[int]:
    """The data-file line numbers an error names ("Line 7: …"), in order, without repeats."""
    out: list[int] = []
    for found in _LINE.finditer(text):
        n = int(found.group(1))
        if n not in out:
            out.append(n)
        if len(out) >= limit:
            break
    return out


def gpu_memory_from_text(text: str) -> float | None:
    """The GPU's size in GB from PyTorch's OOM message ("GPU 0 has a total capacity of 79.15 GiB")."""
    found = _GPU_TOTAL.search(text)
    if not found:
        return None
    value = float(found.group(1)) * (2**30 if found.group(2).lower() == "gib" else 2**20) / 1e9
    return value if 0 < value < 10_000 else None


def corrected_call(kind: Correction | None, ctx: JobContext, text: str) -> CorrectedCall | None:
    """The corrected call for a pattern's ``correction`` kind, or None when it cannot be computed."""
    if kind == "reduce_memory":
        return _reduce_memory(ctx, text)
    if kind == "use_lora" and ctx.training_type == "full":
        return CorrectedCall(
            changes={"training_type": "lora"},
            reason="LoRA trains adapters on a frozen base, which this setup supports where full training fails.",
        )
    if kind == "recommend_base":
        return _recommend_base(ctx)
    if kind == "fit_context":
        return _fit_context(ctx, text)
    if kind == "clamp_range":
        return _clamp_range(text)
    if kind == "train_on_inputs" and ctx.train_on_inputs is not True:
        return CorrectedCall(
            changes={"train_on_inputs": True},
            reason="Training on the prompt tokens too gives every non-empty row tokens to learn from, also rows "
            "whose assistant turns are masked or cut off by max_seq_length (rows of weight 0 stay skipped).",
        )
    if kind == "all_linear_modules" and ctx.lora_trainable_modules not in (None, "all-linear"):
        return CorrectedCall(
            changes={"lora_trainable_modules": "all-linear"},
            reason="'all-linear' targets every linear layer whatever this architecture names its modules.",
        )
    if kind == "lower_learning_rate" and ctx.learning_rate:
        return CorrectedCall(
            changes={"learning_rate": float(f"{ctx.learning_rate / 10:.3g}")},
            reason=f"A tenth of the learning rate that diverged ({ctx.learning_rate:g}).",
        )
    return None


def _reduce_memory(ctx: JobContext, text: str) -> CorrectedCall | None:
    """LoRA instead of full; else half the batch_size (not below the base's minimum); else half max_seq_length."""
    memory = ctx.report.memory if ctx.report is not None else None
    gpu = ctx.gpu_memory_gb or gpu_memory_from_text(text)
    if memory is not None and gpu is not None and memory.lora_gb >= gpu:
        return None  # even LoRA's weights + optimizer state do not fit: a bigger GPU or a smaller model
    if ctx.training_type == "full":
        if memory is not None:
            why = (
                f"the memory estimate puts full fine-tuning at ≈{memory.full_finetune_gb:.0f} GB (weights, "
                f"gradients and optimizer state, before activations) and LoRA at ≈{memory.lora_gb:.0f} GB"
            )
        else:
            why = "LoRA keeps no gradients or optimizer state for the frozen base weights"
        return CorrectedCall(changes={"training_type": "lora"}, reason=f"LoRA instead of full: {why}.")
    if ctx.batch_size is not None:
        low = _min_batch(ctx)
        if ctx.batch_size > low:
            new = max(low, ctx.batch_size // 2)
            return CorrectedCall(
                changes={"batch_size": new},
                reason=f"Activation memory grows with batch_size × max_seq_length: half the batch "
                f"({ctx.batch_size} → {new}; this base's minimum is {low}).",
            )
    if ctx.max_seq_length is not None and ctx.max_seq_length > _MIN_SEQ:
        new = max(_MIN_SEQ, ctx.max_seq_length // 2)
        return CorrectedCall(
            changes={"max_seq_length": new},
            reason=f"batch_size is already at its minimum; half the sequence length ({ctx.max_seq_length} → "
            f"{new}) halves activation memory (longer samples are truncated).",
        )
    return None


def _min_batch(ctx: JobContext) -> int:
    base = ctx.catalog.get(ctx.model) if ctx.catalog is not None and ctx.model else None
    if base is None:
        return 1
    limits = base_limits(base)
    batch = limits.full if ctx.training_type == "full" else limits.lora
    return batch.min_batch_size if batch is not None else 1


def _recommend_base(ctx: JobContext) -> CorrectedCall | None:
    if ctx.report is None or ctx.catalog is None:
        return None
    rec = recommend_for_report(
        ctx.report,
        ctx.catalog,
        training_type=ctx.training_type or "lora",
        max_seq_length=ctx.max_seq_length,
        method=ctx.method or "sft",
    )
    if rec.base_model is None or rec.pick is None:
        return None
    if ctx.model and rec.base_model.lower() == ctx.model.lower():
        return None  # the job already used the rule's pick: the model itself is the problem
    why = rec.explanation or "; ".join(rec.pick.reasons)
    return CorrectedCall(
        changes={"model": rec.base_model}, reason=f"The BYOM base-selection rule's pick: {why}."
    )


def _fit_context(ctx: JobContext, text: str) -> CorrectedCall | None:
    limit = None
    for regex in _CONTEXT:
        found = regex.search(text)
        if found:
            limit = int(found.groups()[-1])
            break
    source = "the error message"
    if limit is None and ctx.report is not None and ctx.report.max_context:
        limit, source = ctx.report.max_context, "the model's config.json"
    if limit is None or not 1 < limit <= _MAX_SEQ:
        return None
    if ctx.max_seq_length is not None and ctx.max_seq_length <= limit:
        return None
    return CorrectedCall(
        changes={"max_seq_length": limit},
        reason=f"The model's context is {limit} tokens ({source}); max_seq_length may not exceed it.",
    )


def _clamp_range(text: str) -> CorrectedCall | None:
    found = _RANGE.search(text)
    if not found or found.group("param") not in _RANGE_PARAMS:
        return None
    arg, is_int = _RANGE_PARAMS[found.group("param")]
    try:
        value, low, high = (float(found.group(k)) for k in ("value", "low", "high"))
    except ValueError:
        return None
    if not low <= high or low <= value <= high:
        return None
    new: float = high if value > high else low
    return CorrectedCall(
        changes={arg: int(new) if is_int else new},
        reason=f"{arg}={found.group('value')} is outside this base's range {found.group('low')} to "
        f"{found.group('high')}; the nearest allowed value.",
    )
