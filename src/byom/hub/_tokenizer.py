"""Which files make a loadable tokenizer and a chat template (shared by the Hub and local checks).

AutoTokenizer (transformers 5.x) builds a tokenizer from the fast ``tokenizer.json``, a SentencePiece or
tiktoken ``tokenizer.model``, a slow BPE ``vocab.json`` + ``merges.txt`` pair, or a WordPiece ``vocab.txt``
(BERT-style tokenizers that a few causal LMs use); without any of them it
fails late with "Couldn't instantiate the backend tokenizer from one of: ...".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["BPE_FILES", "TEMPLATE_FILES", "TOKENIZER_FILES", "has_chat_template", "has_tokenizer"]

TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.txt")
BPE_FILES = ("vocab.json", "merges.txt")
# transformers >= 4.43 saves the template as its own file; older versions keep it in tokenizer_config.json.
TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def has_tokenizer(has: Callable[[str], bool]) -> bool:
    """Whether the files ``has`` reports present are enough for AutoTokenizer to load."""
    return any(has(f) for f in TOKENIZER_FILES) or all(has(f) for f in BPE_FILES)


def has_chat_template(has: Callable[[str], bool], tokenizer_config: Mapping[str, Any] | None) -> bool:
    """Whether a chat template ships in a template file or in tokenizer_config.json's ``chat_template``."""
    return any(has(f) for f in TEMPLATE_FILES) or bool((tokenizer_config or {}).get("chat_template"))
