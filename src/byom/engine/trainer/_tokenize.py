"""Checked JSONL rows as training examples: truncation, packing and preference pairs.

Rows become ids and labels in ``byom.data._tokens`` (shared with token statistics and the loss preview,
so the preview shows exactly what this trains on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from byom.data import IGNORE, encode_preference, encode_row, iter_rows

__all__ = [
    "IGNORE",
    "Example",
    "PreferencePair",
    "load_examples",
    "load_preference_pairs",
    "pack",
    "tokenize_preference",
    "tokenize_row",
]


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]
    weight: float = 1.0
    # Where each packed sub-sequence starts (for position ids); [0] for an unpacked example.
    starts: list[int] = field(default_factory=lambda: [0])

    @property
    def n_label_tokens(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)

    @property
    def n_loss_tokens(self) -> int:
        """Tokens the loss is computed on: labels after the first (each token predicts the next)."""
        return sum(1 for x in self.labels[1:] if x != IGNORE)


def tokenize_row(
    tokenizer: Any,
    row: dict[str, Any],
    *,
    train_on_inputs: bool | Literal["auto"] = "auto",
    max_seq_length: int = 2048,
) -> Example:
    """Tokenize one SFT row (conversation, instruction or general) and truncate it."""
    enc = encode_row(tokenizer, row, train_on_inputs=train_on_inputs)
    weight = float(row.get("weight", 1.0))
    return Example(enc.input_ids[:max_seq_length], enc.labels[:max_seq_length], weight)


def load_examples(
    tokenizer: Any,
    path: Path,
    *,
    train_on_inputs: bool | Literal["auto"],
    max_seq_length: int,
    limit: int | None = None,
) -> tuple[list[Example], int]:
    """Tokenize a JSONL file; return the examples with something to learn and how many were dropped.

    ``limit``: stop once that many are kept (an evaluation reads a sample, not a whole large file).
    """
    kept: list[Example] = []
    dropped = 0
    for row in iter_rows(path):
        if limit is not None and len(kept) >= limit:
            break
        ex = tokenize_row(tokenizer, row, train_on_inputs=train_on_inputs, max_seq_length=max_seq_length)
        if ex.n_label_tokens == 0 or ex.weight == 0:
            dropped += 1
        else:
            kept.append(ex)
    return kept, dropped


def pack(examples: list[Example], max_seq_length: int) -> list[Example]:
    """Concatenate examples into blocks of at most max_seq_length tokens (no example is split).

    An example longer than max_seq_length is truncated to it: no block ever exceeds the length the
    job trains at (the model's context at most).
    """
    # Each sub-sequence keeps its own position ids (Example.starts), so attention and the first
    # token's label never cross into the previous example.
    blocks: list[Example] = []
    cur: Example | None = None
    for ex in examples:
        if len(ex.input_ids) > max_seq_length:
            ex = Example(ex.input_ids[:max_seq_length], ex.labels[:max_seq_length], ex.weight)
        if (
            cur is not None
            and len(cur.input_ids) + len(ex.input_ids) <= max_seq_length
            and cur.weight == ex.weight
        ):
            cur.starts.append(len(cur.input_ids))
            cur.input_ids.extend(ex.input_ids)
            cur.labels.extend([IGNORE] + ex.labels[1:])
        else:
            cur = Example(list(ex.input_ids), list(ex.labels), ex.weight, [0])
            blocks.append(cur)
    return blocks


@dataclass
class PreferencePair:
    """One DPO example: the prompt + preferred and + non-preferred completions (labels on the completion)."""

    chosen: Example
    rejected: Example
    weight: float = 1.0
    ref_logps: tuple[float, float] | None = None  # reference log-probs, filled before training


def tokenize_preference(tokenizer: Any, row: dict[str, Any], *, max_seq_length: int = 2048) -> PreferencePair:
    """Render input.messages + each output with the chat template; loss labels only on that output."""
    chosen, rejected = encode_preference(tokenizer, row)
    sides = [Example(e.input_ids[:max_seq_length], e.labels[:max_seq_length]) for e in (chosen, rejected)]
    return PreferencePair(sides[0], sides[1], float(row.get("weight", 1.0)))


def load_preference_pairs(
    tokenizer: Any, path: Path, *, max_seq_length: int
) -> tuple[list[PreferencePair], int]:
    """Tokenize a preference JSONL file; drop pairs whose completions were truncated away."""
    kept: list[PreferencePair] = []
    dropped = 0
    for row in iter_rows(path):
        pair = tokenize_preference(tokenizer, row, max_seq_length=max_seq_length)
        if pair.chosen.n_label_tokens and pair.rejected.n_label_tokens and pair.weight > 0:
            kept.append(pair)
        else:
            dropped += 1
    return kept, dropped
