"""The SFT training loop: AdamW, Together's schedules, accumulation, clipping, evals, checkpoints."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from byom.data import optimizer_steps
from byom.engine.trainer._checkpoint import load_resume_state, save_checkpoint
from byom.engine.trainer._objective import Objective
from byom.engine.trainer._progress import ProgressWriter
from byom.engine.trainer._schedule import lr_factor
from byom.engine.trainer._watchdog import watch_parent
from byom.engine.trainer.spec import TrainSpec

__all__ = ["Cancelled", "Stopper", "TrainResult", "evaluate", "plan_steps", "spread", "train"]


class Cancelled(Exception):
    """The engine asked us to stop (SIGTERM) or went away; stop at a step boundary."""

    def __init__(self, reason: str, *, orphaned: bool = False) -> None:
        super().__init__(reason)
        self.orphaned = orphaned


class Stopper:
    """Turns SIGTERM and the death of the engine (the watchdog) into a flag checked between steps."""

    def __init__(self, on_orphaned_exit: Callable[[], None] = lambda: None) -> None:
        self.reason: str | None = None
        self.orphaned = False
        signal.signal(signal.SIGTERM, self._on_term)
        watch_parent(self._on_orphaned, on_orphaned_exit)

    def _on_term(self, signum: int, frame: Any) -> None:
        self.reason = "cancelled (SIGTERM)"

    def _on_orphaned(self) -> None:
        self.orphaned = True
        self.reason = "the engine process exited"

    def check(self) -> None:
        if self.reason is not None:
            raise Cancelled(self.reason, orphaned=self.orphaned)


@dataclass
class TrainResult:
    total_steps: int
    tokens_seen: int
    checkpoints: list[Path] = field(default_factory=list)


def spread(n: int, total: int) -> list[int]:
    """n step numbers (1-based) spread evenly over total steps; the last one is total."""
    if n <= 0 or total <= 0:
        return []
    n = min(n, total)
    return sorted({max(1, round(k * total / n)) for k in range(1, n + 1)})


def plan_steps(n_examples: int, spec: TrainSpec) -> tuple[int, int]:
    """(optimizer steps per epoch, total steps): one step = batch_size x gradient_accumulation_steps examples."""
    return optimizer_steps(
        n_examples,
        batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        n_epochs=spec.n_epochs,
    )


def _epoch_groups(n: int, spec: TrainSpec, epoch: int) -> list[list[list[int]]]:
    """The data order of one epoch: a seeded shuffle, so a resumed job sees the same order."""
    import torch

    gen = torch.Generator().manual_seed(spec.random_seed * 100_003 + epoch)
    order = torch.randperm(n, generator=gen).tolist()
    micro = [order[i : i + spec.batch_size] for i in range(0, n, spec.batch_size)]
    ga = spec.gradient_accumulation_steps
    return [micro[i : i + ga] for i in range(0, len(micro), ga)]


def evaluate(model: Any, items: list[Any], objective: Objective, batch_size: int) -> float:
    """Mean loss over the validation set (same objective as training)."""
    import torch

    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(items), batch_size):
            chunk = items[i : i + batch_size]
            total += float(objective.loss_sum(model, chunk)[0])
            count += objective.normalizer(chunk)
    model.train()
    return total / max(1, count)


def _optimizer(model: Any, spec: TrainSpec) -> Any:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    # No weight decay on biases and norm weights (1-D), as transformers' Trainer does.
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": spec.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=spec.learning_rate)


def train(
    spec: TrainSpec,
    model: Any,
    tokenizer: Any,
    train_set: list[Any],
    eval_set: list[Any],
    objective: Objective,
    progress: ProgressWriter,
    stopper: Stopper,
) -> TrainResult:
    """Run the loop to spec's total steps (from a resume checkpoint if given); save checkpoints."""
    import torch

    is_lora = spec.training_type == "lora"
    per_epoch, total = plan_steps(len(train_set), spec)
    eval_steps = set(spread(spec.n_evals, total)) if eval_set else set()
    ckpt_steps = set(spread(spec.n_checkpoints, total))
    optimizer = _optimizer(model, spec)
    start, tokens_seen = 0, 0
    torch.manual_seed(spec.random_seed)
    # Before a resume restores trained weights: DPO's reference is the starting model.
    objective.prepare(model, train_set + eval_set)
    if spec.resume_checkpoint is not None:
        meta = load_resume_state(model, optimizer, spec.resume_checkpoint, is_lora=is_lora)
        start, tokens_seen = int(meta["step"]), int(meta.get("tokens_seen", 0))
        progress.event(
            "job_restarted",
            f"Resumed from {spec.resume_checkpoint.name} at step {start} of {total}.",
            step=start,
            total_steps=total,
        )
    result = TrainResult(total_steps=total, tokens_seen=tokens_seen)
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()
    groups: list[list[list[int]]] = []
    for step in range(start, total):
        stopper.check()
        epoch, idx = divmod(step, per_epoch)
        if idx == 0 or not groups:
            groups = _epoch_groups(len(train_set), spec, epoch)
        t0 = time.perf_counter()
        lr = spec.learning_rate * lr_factor(
            step,
            total,
            kind=spec.lr_scheduler_type,
            warmup_ratio=spec.warmup_ratio,
            min_lr_ratio=spec.min_lr_ratio,
            num_cycles=spec.num_cycles,
        )
        for group in optimizer.param_groups:
            group["lr"] = lr
        micro_batches = [[train_set[i] for i in mb] for mb in groups[idx]]
        norm = max(1, sum(objective.normalizer(mb) for mb in micro_batches))
        loss_total, n_tokens = 0.0, 0
        for mb in micro_batches:
            loss_sum, mb_tokens = objective.loss_sum(model, mb)
            loss = loss_sum / norm
            loss.backward()
            loss_total += float(loss.detach())
            n_tokens += mb_tokens
        if spec.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, spec.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        elapsed = time.perf_counter() - t0
        tokens_seen += n_tokens
        done = step + 1
        progress.write(
            "metric",
            step=done,
            total_steps=total,
            values={
                "train/loss": loss_total,
                "train/learning_rate": lr,
                "train/tokens_per_second": n_tokens / elapsed if elapsed > 0 else 0.0,
                "train/global_step": done,
                "train/epoch": epoch + (idx + 1) / per_epoch,
                "train/tokens": n_tokens,
                **{f"train/{k}": v for k, v in objective.take_metrics().items()},
            },
        )
        if done in eval_steps:
            eval_loss = evaluate(model, eval_set, objective, spec.batch_size)
            extra = {f"eval/{k}": v for k, v in objective.take_metrics().items()}
            progress.write("metric", step=done, total_steps=total, values={"eval/loss": eval_loss, **extra})
        if done in ckpt_steps:
            path = spec.job_dir / "checkpoints" / f"step-{done}"
            save_checkpoint(
                model, tokenizer, optimizer, path, step=done, total_steps=total, tokens_seen=tokens_seen
            )
            final = done == total
            progress.write(
                "checkpoint",
                step=done,
                path=str(path),
                checkpoint="adapter" if is_lora else "model",
                final=final,
            )
            progress.event(
                "checkpoint_save", f"Saved checkpoint at step {done}.", step=done, checkpoint_path=str(path)
            )
            result.checkpoints.append(path)
        if idx == per_epoch - 1:
            progress.event(
                "epoch_complete", f"Epoch {epoch + 1}/{spec.n_epochs} complete.", step=done, total_steps=total
            )
    result.tokens_seen = tokens_seen
    return result
