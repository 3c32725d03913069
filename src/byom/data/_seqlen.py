"""The one rule for the sequence length a job trains at, used by the data check, the launch plan, the engine's
plan, its preview and price estimate, and the trainer.

max_seq_length = min(what was asked, the model's context, the base's limit), each where known. The model's
context comes from its config.json (``max_position_embeddings`` or an alias); the tokenizer's
``model_max_length`` counts only when the config says nothing and the value is real: transformers writes
``int(1e30)`` (``VERY_LARGE_INTEGER``) when no limit was recorded, and some tokenizers carry a stale 4096 for a
512-token model, which is why the config comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_SEQ", "SeqLength", "context_length", "decide_max_seq_length", "tokenizer_limit"]

# Together's SDK default when nothing else is known (``max_seq_length=2048`` in its create call).
DEFAULT_SEQ = 2048
# The config.json keys that give a model's context, by architecture family (Llama/Qwen/Mistral,
# GPT-2, T5-style, ChatGLM). ``sliding_window`` is an attention span, not a limit on the sequence.
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length")
# A tokenizer "maximum" at or past this is a sentinel for "no limit recorded", not a context.
_NO_LIMIT = 1_000_000


def context_length(config: Mapping[str, Any]) -> int | None:
    """The longest sequence a model supports according to its config.json; None if it does not say."""
    # Multimodal configs (Gemma 3, Llava) keep the language model's settings under text_config.
    for section in (config, config.get("text_config")):
        if not isinstance(section, Mapping):
            continue
        for key in _CONTEXT_KEYS:
            value = section.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


def tokenizer_limit(tokenizer: Any) -> int | None:
    """The tokenizer's ``model_max_length`` when it is a real length (not transformers' 1e30 sentinel)."""
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < _NO_LIMIT else None


@dataclass(frozen=True)
class SeqLength:
    """The decided length and what it was decided from."""

    value: int
    requested: int | None
    context: int | None
    context_source: str | None
    base_limit: int | None
    limit_name: str = "the base's limit"  # what ``base_limit`` is, as explain() names it

    @property
    def over_context(self) -> bool:
        """Asked for more than the model supports (a request to refuse or to cap, by the caller's rule)."""
        return self.requested is not None and self.context is not None and self.requested > self.context

    def explain(self) -> str:
        """One line: the length and every limit it was taken from."""
        parts = []
        if self.requested is not None:
            parts.append(f"requested {self.requested:,}")
        if self.context is not None:
            parts.append(f"the model's context {self.context:,} ({self.context_source})")
        if self.base_limit is not None:
            parts.append(f"{self.limit_name} {self.base_limit:,}")
        if not parts:
            return f"max_seq_length {self.value:,}: nothing else known, Together's SDK default."
        return f"max_seq_length {self.value:,}: the smallest of " + ", ".join(parts) + "."


def decide_max_seq_length(
    requested: int | None,
    *,
    config: Mapping[str, Any] | None = None,
    tokenizer: Any = None,
    context: int | None = None,
    base_limit: int | None = None,
) -> SeqLength:
    """min(requested, the model's context, the base's limit), each where known; DEFAULT_SEQ when none is.

    The context is ``context`` when the caller already read it from the config (inspect_hf_model's reading),
    else read from ``config``, else the tokenizer's real ``model_max_length``.
    """
    if context is None and config:
        context = context_length(config)
    source = "config.json" if context is not None else None
    if context is None and tokenizer is not None:
        context = tokenizer_limit(tokenizer)
        source = "tokenizer model_max_length" if context is not None else None
    known = [v for v in (requested, context, base_limit) if v]
    return SeqLength(
        value=min(known) if known else DEFAULT_SEQ,
        requested=requested,
        context=context,
        context_source=source,
        base_limit=base_limit,
    )
