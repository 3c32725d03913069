"""A plan's method settings: each value with where it came from, and the defaults a practitioner would pick.

you      the call gave it (a value other than the tool's default)
default  the tool's default, with its source (the Together CLI, TRL)
derived  worked out for this model or method (a LoRA rank from the hidden size, a DPO learning rate)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from byom.jobs.launch import LaunchArgs
    from byom.together import FinetuneModelLimits, FinetuneRequest

__all__ = [
    "DPO_BETA",
    "Setting",
    "default_learning_rate",
    "dpo_rate_warning",
    "lora_rank",
    "plan_settings",
    "rank_warning",
]

# TRL's DPOConfig default beta (huggingface/trl, trl/trainer/dpo_config.py): the KL leash most DPO recipes keep.
DPO_BETA = 0.1
# (method, training type) → (learning rate, why). SFT: the Together CLI's defaults (1e-3 LoRA, the SDK's 1e-5
# full). DPO: the alignment-handbook's zephyr-7b-beta DPO recipe trains full weights at 5e-7; LoRA adapters take
# about ten times that (5e-6). An SFT rate of 1e-3 on preference pairs drives the policy off its reference.
_DEFAULT_LR: dict[tuple[str, str], tuple[float, str]] = {
    ("sft", "lora"): (1e-3, "default: the Together CLI's for LoRA"),
    ("sft", "full"): (1e-5, "default: the Together SDK's for full training"),
    ("dpo", "lora"): (
        5e-6,
        "derived for DPO with LoRA: 10× the alignment-handbook's full-weight DPO rate 5e-7",
    ),
    ("dpo", "full"): (5e-7, "derived for DPO: the alignment-handbook's zephyr-7b-beta DPO rate"),
}
# A DPO learning rate above this is aggressive for preference training (TRL's default is 1e-6).
_DPO_LR_HIGH = 5e-5
# A rank at or above hidden/4 gives each adapted square layer an adapter half its size or more.
_RANK_SHARE = 4
# The rank derived by default: hidden/8 (a quarter of each adapted layer's size), rounded down to a power of two.
_RANK_DIVISOR = 8

Source = Literal["you", "default", "derived"]


class Setting(BaseModel):
    name: str
    value: str | int | float | bool | None
    source: Source
    why: str | None = None

    def render(self) -> str:
        value = f"{self.value:g}" if isinstance(self.value, float) else str(self.value)
        return f"{self.name} {value} ({self.why or self.source})"


def default_learning_rate(method: str, training_type: str) -> tuple[float, str]:
    """The learning rate for ``method`` and ``training_type`` when none is given, and why."""
    return _DEFAULT_LR[(method, training_type)]


def lora_rank(hidden: int | None, limits: FinetuneModelLimits) -> tuple[int | None, str]:
    """The default LoRA rank: hidden/8 as a power of two, at most the base's default and maximum; the base's
    default when the hidden size is unknown."""
    lora = limits.lora_training
    base_default = lora.default_rank if lora is not None else None
    cap = min(r for r in (base_default, lora.max_rank if lora else None, 64) if r)
    if hidden is None:
        return base_default, "default: the base's"
    rank = 1
    while rank * 2 <= max(hidden // _RANK_DIVISOR, 1):
        rank *= 2
    rank = min(rank, cap)
    return rank, f"derived: hidden {hidden}"


def rank_warning(rank: int | None, hidden: int | None) -> str | None:
    """A warning when ``rank`` is large against the hidden size (the adapter rivals the layers it adapts)."""
    if rank is None or hidden is None or rank * _RANK_SHARE < hidden:
        return None
    share = 2 * rank / hidden
    return (
        f"lora_r {rank} is large for hidden size {hidden}: each adapted layer gets an adapter {share:.0%} of its size, "
        f"which memorises rather than adapts. Fix: lora_r={max(hidden // _RANK_DIVISOR, 1)} or less."
    )


def dpo_rate_warning(method: str, learning_rate: float) -> str | None:
    """A warning when a DPO learning rate is one a practitioner would not pick."""
    if method != "dpo" or learning_rate <= _DPO_LR_HIGH:
        return None
    return (
        f"learning_rate {learning_rate:g} is aggressive for DPO (TRL's default 1e-6; LoRA-DPO around 5e-6): the "
        "policy drifts from its reference and the rewards collapse. Fix: leave learning_rate out (5e-6 for LoRA)."
    )


def plan_settings(
    args: LaunchArgs, req: FinetuneRequest, *, batch: str, max_seq_length: int, derived: dict[str, str]
) -> list[Setting]:
    """Every method parameter the job trains with, as sent, with its source; ``derived``: name → why, for the
    values this plan worked out; ``batch`` and ``max_seq_length``: as they resolve."""
    from byom.jobs.launch import LaunchArgs

    def source(name: str, value: object) -> tuple[Source, str | None]:
        if name in derived:
            why = derived[name]
            return ("default" if why.startswith("default") else "derived"), why
        given = getattr(args, name, None)
        default = LaunchArgs.model_fields[name].default if name in LaunchArgs.model_fields else None
        return ("you", None) if given is not None and given != default else ("default", None)

    values: list[tuple[str, str | int | float | bool | None]] = [
        ("n_epochs", req.n_epochs),
        ("learning_rate", req.learning_rate),
        ("batch_size", batch),
        ("max_seq_length", max_seq_length),
    ]
    tt = req.training_type
    if tt is not None and tt.type == "Lora":
        values += [
            ("lora_r", tt.lora_r),
            ("lora_alpha", tt.lora_alpha),
            ("lora_dropout", tt.lora_dropout),
            ("lora_trainable_modules", tt.lora_trainable_modules),
        ]
    method = req.training_method
    if method.method == "dpo":
        values.append(("dpo_beta", getattr(method, "dpo_beta", None)))
    else:
        values.append(("train_on_inputs", getattr(method, "train_on_inputs", None)))
    values += [
        ("warmup_ratio", req.warmup_ratio),
        ("lr_scheduler", req.lr_scheduler.lr_scheduler_type if req.lr_scheduler else None),
        ("weight_decay", req.weight_decay),
        ("max_grad_norm", req.max_grad_norm),
        ("n_checkpoints", req.n_checkpoints),
        ("n_evals", req.n_evals),
    ]
    out = []
    for name, value in values:
        src, why = source(name, value)
        out.append(Setting(name=name, value=value, source=src, why=why))
    return out
