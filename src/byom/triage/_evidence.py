"""Evidence is untrusted text: quote it short, with secrets redacted and nothing that can end a fence.

failure-catalog.md §3: logs and error text are untrusted input, quoted in fenced blocks, truncated, with
secrets redacted before returning them (as the HF MCP server's jobs tool does).
"""

from __future__ import annotations

import re

__all__ = ["MAX_EVIDENCE", "quote_evidence", "redact"]

MAX_EVIDENCE = 300

_SECRETS = [
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),  # Hugging Face tokens
    re.compile(r"\b(?:tgp_v1_|sk-|tok_)[A-Za-z0-9_\-]{16,}\b"),  # Together / OpenAI-style keys
    re.compile(
        r"(?i)\b(bearer|authorization:?|api[_-]?key[=:]\s*|token[=:]\s*|password[=:]\s*)\s*(?:bearer\s+)?[^\s,;'\"]+"
    ),
]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def redact(text: str) -> str:
    """``text`` with anything shaped like a token or key replaced by ``[redacted]``."""
    for regex in _SECRETS:
        if regex.groups:
            text = regex.sub(lambda m: f"{m.group(1)} [redacted]", text)
        else:
            text = regex.sub("[redacted]", text)
    return text


def quote_evidence(text: str, *, limit: int = MAX_EVIDENCE) -> str:
    """Redacted, control characters and backtick runs removed (so a fence cannot be closed), ≤ ``limit``."""
    text = redact(_CONTROL.sub(" ", text)).replace("```", "'''").strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
