"""Untrusted text (model cards, dataset rows, repo names, logs, events, error bodies): one rule for showing it.

    redact(text)          generic secret shapes replaced by "[redacted: <kind>]"; needs no knowledge of the secret
    clip(text, limit)     at most ``limit`` characters, ending with what was cut ("… [1,234 more characters]")
    fence(text, label)    a ```untrusted-<label> block that its content cannot close
    quote(text, limit)    an excerpt for a message: control characters out, redacted, no fence marker, clipped
    name(text)            a repo-controlled name (model_type, a class, a file) as «name»: one line, clipped

Every use states its budget: the constants below, in characters. Hosts cap a tool result near 25k tokens; the
largest untrusted part of one result (the loss preview) stays under half of that.

The secret shapes come from maintained detectors, not from a list invented here:
- gitleaks ``config/gitleaks.toml`` (github.com/gitleaks/gitleaks, commit 420a0f55f4a7a03dfe701ceb1f4f66a7c68b26b4):
  rules ``private-key``, ``aws-access-token``, ``slack-bot-token`` / ``slack-legacy-*`` / ``slack-webhook-url``,
  ``github-pat`` / ``github-oauth`` / ``github-app-token`` / ``github-refresh-token`` / ``github-fine-grained-pat``,
  ``huggingface-access-token`` / ``huggingface-organization-api-token``, ``jwt``, ``openai-api-key``.
- Yelp detect-secrets ``detect_secrets/plugins/`` (github.com/Yelp/detect-secrets): ``aws.py`` (commit
  54f7b7334e60d1d1fdcdca1129aa3f4adf001ff9: the AWS secret key after "aws … key"), ``private_key.py`` (a BEGIN
  line with no END), ``slack.py`` (commit 067bb21766b6c6a8db4c3adf39de3ef490fd1b90), ``keyword.py`` (commit
  6cf2d66013b4575d6c56646b903e2934f92d279f: ``name = value`` / ``name: value`` / ``"name": "value"``).
Widened where a detector is narrower than the keys this server meets: Hugging Face tokens with digits (gitleaks
allows letters only), any ``sk-``/``sk-ant-`` key (gitleaks' OpenAI rule wants the ``T3BlbkFJ`` marker), Together's
``tgp_v1_`` keys, ``Authorization``/``Bearer`` values, and names ending in ``_KEY``/``_TOKEN``/``_SECRET`` (the
keyword plugin lists whole words). Not matched on purpose: hex digests (sha256, git commits), our ids (``ft-…``,
``file-…``, ``ep_…``), base64 image data (never passed in), and tokenizer special tokens (``pad_token: <pad>``).
"""

from __future__ import annotations

import re

__all__ = [
    "ANSWER_CHARS",
    "ERROR_BODY_CHARS",
    "EVENT_CHARS",
    "EVIDENCE_CHARS",
    "FAILURE_CHARS",
    "NAME_CHARS",
    "PREVIEW_ROW_CHARS",
    "PREVIEW_TOTAL_CHARS",
    "PROBLEM_QUOTE_CHARS",
    "SAMPLE_CHARS",
    "clip",
    "fence",
    "name",
    "quote",
    "redact",
]

# The budgets, in characters, of each kind of untrusted text a tool returns.
EVIDENCE_CHARS = 300  # explain_error's evidence line (failure-catalog.md §3: quoted short)
EVENT_CHARS = 300  # one job event or endpoint status message
FAILURE_CHARS = 600  # a failed job's error message
ERROR_BODY_CHARS = 500  # a backend's error message inside a TogetherAPIError
NAME_CHARS = 100  # a repo-controlled name: longer model_type / class / file names are not real ones
PROBLEM_QUOTE_CHARS = 80  # the excerpt of a data line quoted in a problem
PREVIEW_ROW_CHARS = 3_000  # one row of the loss preview
PREVIEW_TOTAL_CHARS = 12_000  # all preview rows of one result (hosts cap a result near 25k tokens)
ANSWER_CHARS = 4_000  # a model's answer in ask_model (max_tokens caps what it generates; this, what is shown)
SAMPLE_CHARS = 400  # one prompt or answer of an evaluation's side-by-side samples (3 samples, 3 parts each)

_KEY_TYPES = r"[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
_SHAPES: list[tuple[str, re.Pattern[str]]] = [
    # gitleaks private-key, to its END line; a BEGIN line without one (a clipped block) takes the key body after it
    # (detect-secrets private_key.py).
    (
        "private key",
        re.compile(
            rf"-----BEGIN{_KEY_TYPES}(?:[\s\S]{{0,16384}}?-----END{_KEY_TYPES}|[A-Za-z0-9+/=\s\\:,-]*)",
            re.IGNORECASE,
        ),
    ),
    ("AWS access key id", re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b")),
    ("Slack token", re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{10,}", re.IGNORECASE)),
    (
        "Slack webhook",
        re.compile(r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_]+"),
    ),
    ("GitHub token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{36}\b|\bgithub_pat_\w{82}")),
    ("Hugging Face token", re.compile(r"\b(?:hf|api_org)_[A-Za-z0-9]{20,}\b")),
    ("API key", re.compile(r"\b(?:sk-(?:ant-)?|tgp_v1_)[A-Za-z0-9_-]{16,}")),
    (
        "JWT",
        re.compile(r"\bey[A-Za-z0-9_-]{17,}\.ey[A-Za-z0-9/\\_-]{17,}\.(?:[A-Za-z0-9/\\_-]{10,}={0,2})?"),
    ),
]
# detect-secrets aws.py: a 40-character secret within 20 characters after "aws … key/token/password".
_AWS_SECRET = re.compile(
    r"(aws.{0,20}?(?:key|pwd|pw|password|pass|token).{0,20}?)\b[0-9a-zA-Z/+]{40}\b", re.IGNORECASE
)
# A value that names where the secret is ($TOGETHER_API_KEY, ${HF_TOKEN}: gitleaks' global allowlist) is none.
_BEARER = re.compile(
    r"\b((?:proxy-)?authorization\s*[:=]\s*(?:(?:bearer|basic|token)\s+)?|bearer\s+)(?!\$)[^\s,;'\"\[]{8,}",
    re.IGNORECASE,
)
# detect-secrets keyword.py: a name ending in a secret word, then = / : / := / =>, then the value (quoted or not);
# not a $reference nor code (keyword.py's heuristics: a value followed by "(" or "[" is a call or an index).
_ASSIGNMENT = re.compile(
    r"""(?<![\w.-])(?P<name>[\w.-]*?(?:api[_-]?key|apikey|[_.-]key|secret|token|passw(?:or)?d|pwd|db_pass|credentials?))
        (?P<sep>["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?)
        (?P<value>(?!\$)[^\s"'`,;<>{}()\[\]\x00]{6,})(?![(\[\w.-])""",
    re.IGNORECASE | re.VERBOSE,
)
# Names whose values are not secrets: tokenizer special tokens, our own confirmation token (the user must see it),
# and gitleaks' generic-api-key allowlist entries that fit this rule.
_NOT_SECRET_NAME = re.compile(
    r"(?:^|[_.-])(?:pad|eos|bos|unk|sep|cls|mask|special|confirm|csrf|public)[_.-]?token$", re.IGNORECASE
)
_LONGEST_SHAPE = 16_384 + 256  # a private-key block, BEGIN to END (a 4096-bit RSA key is about 3,300)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def _mark(kind: str) -> str:
    return f"[redacted: {kind}]"


def redact(text: str) -> str:
    """``text`` with every generic secret shape (see the module docstring) replaced by ``[redacted: <kind>]``."""
    for kind, regex in _SHAPES:
        text = regex.sub(_mark(kind), text)
    text = _AWS_SECRET.sub(lambda m: m.group(1) + _mark("AWS secret key"), text)
    text = _BEARER.sub(lambda m: m.group(1) + _mark("credential"), text)
    return _ASSIGNMENT.sub(_assignment, text)


def _assignment(match: re.Match[str]) -> str:
    if _NOT_SECRET_NAME.search(match["name"]) or match["value"].startswith("[redacted"):
        return match[0]
    return match["name"] + match["sep"] + _mark("secret")


def clip(text: str, limit: int, *, dropped: int = 0) -> str:
    """``text`` if it fits ``limit`` characters, else its head and how much was cut, ``limit`` characters in all.

    ``dropped``: characters already cut from the end of ``text`` before it came here (counted as cut)."""
    if len(text) <= limit and not dropped:
        return text
    keep = limit - len(_cut_note(len(text) + dropped))  # the widest the note can be
    if keep <= 0:
        return text[:limit]
    return text[:keep].rstrip() + _cut_note(len(text) - keep + dropped)


def _cut_note(n: int) -> str:
    return f"… [{n:,} more characters]"


def fence(text: str, label: str) -> str:
    """``text`` in a fenced block labelled ``untrusted-<label>``; a run of backticks inside cannot close it."""
    return f"```untrusted-{label}\n{_unfenced(text)}\n```"


def quote(text: str, limit: int) -> str:
    """``text`` for one message: control characters out, secrets redacted, no fence marker, ≤ ``limit``.

    Only the head is read: the most a secret shape can span (a private-key block) past the budget."""
    head = text[: limit + _LONGEST_SHAPE]
    return clip(_unfenced(redact(_CONTROL.sub(" ", head))).strip(), limit, dropped=len(text) - len(head))


def name(text: str, limit: int = NAME_CHARS) -> str:
    """A repo-controlled name as ``«name»``: on one line, without guillemets or fence markers, clipped."""
    flat = _LINE_BREAKS.sub(" ", text).replace("«", "<").replace("»", ">")
    return "«" + clip(_unfenced(flat).strip(), limit) + "»"


def _unfenced(text: str) -> str:
    return text.replace("```", "'''")
