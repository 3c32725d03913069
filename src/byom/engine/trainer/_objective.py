"""What the loop minimises: SFT cross-entropy on label tokens, or the DPO preference loss."""

from __future__ import annotations

import itertools
from typing import Any, Protocol

from byom.engine.trainer._tokenize import IGNORE, Example, PreferencePair

__all__ = ["DPOObjective", "Objective", "SFTObjective", "collate", "collate_flat"]


def collate(batch: list[Example], pad_id: int, device: Any) -> dict[str, Any]:
    """Right-pad; position ids restart at every packed sub-sequence (transformers then isolates them)."""
    import torch

    width = max(len(ex.input_ids) for ex in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    pos = torch.zeros((len(batch), width), dtype=torch.long)
    for b, ex in enumerate(batch):
        n = len(ex.input_ids)
        ids[b, :n] = torch.tensor(ex.input_ids)
        labels[b, :n] = torch.tensor(ex.labels)
        bounds = ex.starts + [n]
        for s, e in itertools.pairwise(bounds):
            pos[b, s:e] = torch.arange(e - s)
        # Padding continues the last sequence's positions; nothing real attends to it (causal, right pad).
        pos[b, n:] = torch.arange(bounds[-1] - bounds[-2], bounds[-1] - bounds[-2] + width - n)
    weights = torch.tensor([ex.weight for ex in batch], dtype=torch.float32)
    return {
        "input_ids": ids.to(device),
        "position_ids": pos.to(device),
        "labels": labels.to(device),
        "token_weights": weights[:, None].expand(ids.shape).to(device),
        "n_tokens": sum(len(ex.input_ids) for ex in batch),
    }


def collate_flat(batch: list[Example], device: Any) -> dict[str, Any]:
    """Padding-free: the whole micro-batch as one row, position ids restarting at every (sub-)sequence.

    The first token of each example after the first gets no label (the previous example's last logit must not
    learn to predict it), exactly as ``pack`` does; each token keeps its example's weight. With flash-attention
    the kernel keeps the examples apart; transformers' packed-sequence mask does the same for SDPA and eager,
    which is how the equality with ``collate`` is tested on the CPU.
    """
    import torch

    ids: list[int] = []
    labels: list[int] = []
    pos: list[int] = []
    token_weights: list[float] = []
    for i, ex in enumerate(batch):
        n = len(ex.input_ids)
        ids.extend(ex.input_ids)
        labels.extend(ex.labels if i == 0 else [IGNORE, *ex.labels[1:]])
        for s, e in itertools.pairwise([*ex.starts, n]):
            pos.extend(range(e - s))
        token_weights.extend([ex.weight] * n)
    return {
        "input_ids": torch.tensor([ids], dtype=torch.long, device=device),
        "position_ids": torch.tensor([pos], dtype=torch.long, device=device),
        "labels": torch.tensor([labels], dtype=torch.long, device=device),
        "token_weights": torch.tensor([token_weights], dtype=torch.float32, device=device),
        "n_tokens": len(ids),
    }


def _label_logits(model: Any, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Logits (fp32) at label positions only, their labels, and the [batch, len-1] label mask."""
    logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
    labels = batch["labels"][:, 1:]
    mask = labels != IGNORE
    # Select before upcasting: an fp32 copy of [batch, len, vocab] is the biggest tensor of a step on a
    # large-vocabulary model, and most positions (prompts, padding) carry no loss.
    return logits[:, :-1][mask].float(), labels[mask], mask


def _token_logps(model: Any, batch: dict[str, Any]) -> Any:
    """Sum of label log-probs per sequence, shape [batch]."""
    import torch

    logits, labels, mask = _label_logits(model, batch)
    picked = torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    per_token = torch.zeros(mask.shape, dtype=picked.dtype, device=picked.device)
    per_token[mask] = picked
    return per_token.sum(-1)


class Objective(Protocol):
    def prepare(self, model: Any, items: list[Any]) -> None: ...
    def normalizer(self, items: list[Any]) -> int: ...
    def loss_sum(self, model: Any, items: list[Any]) -> tuple[Any, int]: ...
    def take_metrics(self) -> dict[str, float]:
        """Metrics of the loss_sum calls since the last take (names without the train/ or eval/ prefix)."""
        ...


class SFTObjective:
    """Token-level cross-entropy (times the sample weight), averaged over the step's label tokens.

    ``padding_free``: each micro-batch is one flattened row (``collate_flat``; byom.engine.trainer._accel says
    when); the loss is the same sum over the same label tokens.
    """

    def __init__(self, pad_id: int, device: Any, *, padding_free: bool = False) -> None:
        self.pad_id, self.device, self.padding_free = pad_id, device, padding_free

    def prepare(self, model: Any, items: list[Example]) -> None:
        return None

    def normalizer(self, items: list[Example]) -> int:
        return sum(ex.n_loss_tokens for ex in items)

    def take_metrics(self) -> dict[str, float]:
        return {}

    def sequence_losses(self, model: Any, items: list[Example]) -> tuple[Any, int]:
        """Weighted cross-entropy summed per example, shape [batch] (each over ``n_loss_tokens`` tokens), and
        the batch's token count: what ``loss_sum`` adds up, kept apart for a held-out loss's noise. Padding-free,
        the micro-batch is one row: one sum for it all (a held-out loss uses the padded objective)."""
        import torch
        import torch.nn.functional as F

        if self.padding_free:
            batch = collate_flat(items, self.device)
        else:
            batch = collate(items, self.pad_id, self.device)
        logits, labels, mask = _label_logits(model, batch)
        ce = F.cross_entropy(logits, labels, reduction="none")
        weights = batch["token_weights"][:, 1:][mask]
        per_token = torch.zeros(mask.shape, dtype=ce.dtype, device=ce.device)
        per_token[mask] = ce * weights
        return per_token.sum(-1), batch["n_tokens"]

    def loss_sum(self, model: Any, items: list[Example]) -> tuple[Any, int]:
        per_example, n_tokens = self.sequence_losses(model, items)
        return per_example.sum(), n_tokens


class DPOObjective:
    """DPO (Rafailov et al. 2023): -log sigmoid(beta * (policy log-ratio - reference log-ratio)), per pair.

    The reference is the model as it starts (base with fresh LoRA adapters, or the init checkpoint);
    its log-probs are computed once before training, so full fine-tuning needs no second model copy.
    Reports TRL's reward metrics: a side's implicit reward is beta x (policy - reference log-prob);
    ``rewards/accuracies`` is the share of pairs whose chosen side gets the higher reward, ``rewards/margins``
    the mean of chosen minus rejected.
    """

    def __init__(self, beta: float, pad_id: int, device: Any, batch_size: int) -> None:
        self.beta, self.pad_id, self.device, self.batch_size = beta, pad_id, device, batch_size
        self._pairs, self._wins, self._margins = 0, 0, 0.0

    def _logps(self, model: Any, pairs: list[PreferencePair]) -> tuple[Any, Any, int]:
        batch = collate([p.chosen for p in pairs] + [p.rejected for p in pairs], self.pad_id, self.device)
        seq = _token_logps(model, batch)
        return seq[: len(pairs)], seq[len(pairs) :], batch["n_tokens"]

    def prepare(self, model: Any, items: list[PreferencePair]) -> None:
        import torch

        todo = [p for p in items if p.ref_logps is None]
        was_training = model.training
        model.eval()
        with torch.no_grad():
            for i in range(0, len(todo), self.batch_size):
                chunk = todo[i : i + self.batch_size]
                chosen, rejected, _ = self._logps(model, chunk)
                for p, c, r in zip(chunk, chosen.tolist(), rejected.tolist()):
                    p.ref_logps = (c, r)
        model.train(was_training)

    def normalizer(self, items: list[PreferencePair]) -> int:
        return len(items)

    def loss_sum(self, model: Any, items: list[PreferencePair]) -> tuple[Any, int]:
        import torch
        import torch.nn.functional as F

        chosen, rejected, n_tokens = self._logps(model, items)
        ref = torch.tensor([p.ref_logps for p in items], dtype=chosen.dtype, device=chosen.device)
        margin = (chosen - ref[:, 0]) - (rejected - ref[:, 1])
        rewards = (self.beta * margin).detach()
        self._pairs += len(items)
        self._wins += int((rewards > 0).sum())
        self._margins += float(rewards.sum())
        weights = torch.tensor([p.weight for p in items], dtype=chosen.dtype, device=chosen.device)
        return (-F.logsigmoid(self.beta * margin) * weights).sum(), n_tokens

    def take_metrics(self) -> dict[str, float]:
        if not self._pairs:
            return {}
        out = {"rewards/accuracies": self._wins / self._pairs, "rewards/margins": self._margins / self._pairs}
        self._pairs, self._wins, self._margins = 0, 0, 0.0
        return out
