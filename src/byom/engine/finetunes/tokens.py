"""Token counts for the price estimate.

Exact when the model's tokenizer is at hand (a local model directory, or a Hub model already in the
cache): rows are tokenized exactly as the trainer tokenizes them, by the data check's token statistics. Otherwise approximate: word
pieces of every string in each row (Together's estimate request names no model to tokenize with).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["count_file_tokens", "count_file_tokens_exact"]

# Words and single punctuation marks: within ~20% of BPE counts for English text, and fast.
_PIECE = re.compile(r"\w+|[^\w\s]")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@lru_cache(maxsize=256)
def _count(path: str, size: int, mtime: float) -> float:
    total = 0
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                row = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            total += sum(len(_PIECE.findall(s)) for s in _strings(row))
    return float(total)


def count_file_tokens(path: Path | None) -> float:
    """Approximate token count of a JSONL file's text."""
    if path is None or not path.is_file():
        return 0.0
    stat = path.stat()
    return _count(str(path), stat.st_size, stat.st_mtime)


def count_file_tokens_exact(path: Path, model_dir: Path, *, max_seq_length: int) -> int:
    """Tokens the trainer reads in one epoch of this file with the model at ``model_dir``: the data check's
    ``processed_tokens`` (after truncation, without the rows training drops), so check, plan and job agree."""
    from byom.data import iter_rows, load_counting_tokenizer, token_stats

    return token_stats(
        load_counting_tokenizer(model_dir), iter_rows(path), max_seq_length=max_seq_length
    ).processed_tokens
