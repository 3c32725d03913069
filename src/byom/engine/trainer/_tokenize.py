"""Turn checked JSONL rows into token ids and loss labels (-100 = no loss), and pack them.

Masking follows Together's meaning of ``train_on_inputs`` (ref together-api.md §3.4): "auto"
trains on assistant turns (conversation) or the completion (instruction) and on everything for
plain text; a message ``weight`` (0/1) overrides its role's default.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from byom.errors import TrainingError

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

IGNORE = -100


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


def _train_inputs(train_on_inputs: bool | Literal["auto"]) -> bool:
    return train_on_inputs is True


def _require_template(tokenizer: Any) -> None:
    if not getattr(tokenizer, "chat_template", None):
        raise TrainingError(
            "Tokenizer has no chat template, so conversation data can't be rendered. Use a model whose "
            "tokenizer has a chat_template (usually the instruct variant), or convert the data to the "
            '"text" or "prompt"/"completion" format.'
        )


def _render(tokenizer: Any, messages: list[dict[str, Any]], tools: Any, gen_prompt: bool) -> str:
    return tokenizer.apply_chat_template(
        messages, tools=tools, tokenize=False, add_generation_prompt=gen_prompt
    )


def _conversation(
    tokenizer: Any, row: dict[str, Any], train_on_inputs: bool | Literal["auto"]
) -> tuple[list[int], list[int]]:
    """Render with the chat template; label each message's span by rendering message prefixes."""
    _require_template(tokenizer)
    messages: list[dict[str, Any]] = row["messages"]
    tools = row.get("tools")
    full = _render(tokenizer, messages, tools, gen_prompt=False)
    # Character spans of trained messages. Rendering messages[:i] (+ the generation prompt for an
    # assistant turn) gives where message i's own text starts; rendering messages[:i+1] where it ends.
    spans: list[tuple[int, int]] = []
    pos = 0
    for i, msg in enumerate(messages):
        role = msg.get("role")
        trained = (
            bool(msg["weight"])
            if "weight" in msg
            else (role == "assistant" or _train_inputs(train_on_inputs))
        )
        end_text = _render(tokenizer, messages[: i + 1], tools, gen_prompt=False)
        if role == "assistant" and not _train_inputs(train_on_inputs):
            # The assistant header (generation prompt) is input, not something to learn.
            head = _render(tokenizer, messages[:i], tools, gen_prompt=True) if i else ""
        else:
            head = _render(tokenizer, messages[:i], tools, gen_prompt=False) if i else ""
        if full.startswith(end_text) and full.startswith(head) and len(head) <= len(end_text):
            start, end = len(head), len(end_text)
        else:
            # Templates that rewrite earlier turns (e.g. drop old reasoning) aren't prefix-stable:
            # fall back to finding the message content verbatim after the previous span.
            content = msg.get("content")
            if not isinstance(content, str) or not content:
                continue
            found = full.find(content, pos)
            if found < 0:
                continue
            start, end = found, found + len(content)
        pos = max(pos, end)
        if trained:
            spans.append((start, end))
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    labels = [IGNORE] * len(ids)
    for t, (a, b) in enumerate(enc["offset_mapping"]):
        if b > a and any(s <= a < e for s, e in spans):
            labels[t] = ids[t]
    return ids, labels


def _instruction(
    tokenizer: Any, row: dict[str, Any], train_on_inputs: bool | Literal["auto"]
) -> tuple[list[int], list[int]]:
    prompt = tokenizer(_as_text(row["prompt"]), add_special_tokens=True)["input_ids"]
    completion = tokenizer(_as_text(row["completion"]), add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        completion = completion + [tokenizer.eos_token_id]
    prompt_labels = list(prompt) if _train_inputs(train_on_inputs) else [IGNORE] * len(prompt)
    return prompt + completion, prompt_labels + completion


def _general(tokenizer: Any, row: dict[str, Any]) -> tuple[list[int], list[int]]:
    ids = tokenizer(row["text"], add_special_tokens=True)["input_ids"]
    if tokenizer.eos_token_id is not None:
        ids = ids + [tokenizer.eos_token_id]
    return ids, list(ids)


def _as_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def tokenize_row(
    tokenizer: Any,
    row: dict[str, Any],
    *,
    train_on_inputs: bool | Literal["auto"] = "auto",
    max_seq_length: int = 2048,
) -> Example:
    """Tokenize one SFT row (conversation, instruction or general) and truncate it."""
    if "messages" in row:
        ids, labels = _conversation(tokenizer, row, train_on_inputs)
    elif "prompt" in row:
        ids, labels = _instruction(tokenizer, row, train_on_inputs)
    elif "text" in row:
        ids, labels = _general(tokenizer, row)
    else:
        raise TrainingError(
            "This row is preference data, which needs DPO; the local engine trains SFT only. "
            "Use conversation, instruction or text data."
        )
    weight = float(row.get("weight", 1.0))
    return Example(ids[:max_seq_length], labels[:max_seq_length], weight)


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as f:
        for raw in f:
            if raw.strip():
                yield json.loads(raw)


def load_examples(
    tokenizer: Any,
    path: Path,
    *,
    train_on_inputs: bool | Literal["auto"],
    max_seq_length: int,
) -> tuple[list[Example], int]:
    """Tokenize a JSONL file; return the examples with something to learn and how many were dropped."""
    kept: list[Example] = []
    dropped = 0
    for row in _rows(path):
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
    _require_template(tokenizer)
    inp = row["input"]
    context = [{**m, "weight": 0} for m in inp["messages"]]
    sides = []
    for key in ("preferred_output", "non_preferred_output"):
        answer = {**row[key][0], "weight": 1}
        ids, labels = _conversation(
            tokenizer, {"messages": context + [answer], "tools": inp.get("tools")}, "auto"
        )
        sides.append(Example(ids[:max_seq_length], labels[:max_seq_length]))
    return PreferencePair(sides[0], sides[1], float(row.get("weight", 1.0)))


def load_preference_pairs(
    tokenizer: Any, path: Path, *, max_seq_length: int
) -> tuple[list[PreferencePair], int]:
    """Tokenize a preference JSONL file; drop pairs whose completions were truncated away."""
    kept: list[PreferencePair] = []
    dropped = 0
    for row in _rows(path):
        pair = tokenize_preference(tokenizer, row, max_seq_length=max_seq_length)
        if pair.chosen.n_label_tokens and pair.rejected.n_label_tokens and pair.weight > 0:
            kept.append(pair)
        else:
            dropped += 1
    return kept, dropped
