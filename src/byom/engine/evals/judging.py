"""What the judge is asked and how its answer is read: compare verdicts (both orders), scores and labels.

The judge answers in free text; only its last non-empty line counts, stripped of markdown and of a leading
"Verdict:"/"Answer:". Whatever that line is not — A, B or TIE; a number; one of the labels — is no answer:
the caller counts it as a judge failure (or an invalid score/label), never as a silent skip or a winner.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

__all__ = [
    "classify_question",
    "compare_question",
    "final_line",
    "label_of",
    "reconcile",
    "score_of",
    "score_question",
    "swap",
    "verdict",
]

_DECOR = " \t*_`'\"[](){}<>.,:;!#-"
_LEAD = re.compile(
    r"^(?:the\s+)?(?:final\s+)?(?:verdict|answer|winner|label|score|decision|rating)\s*(?:is\s*)?[:=\-]?\s*",
    re.IGNORECASE,
)

# A verdict given with the answers shown in flipped order names the other model.
_SWAPPED = {"A": "B", "B": "A", "TIE": "TIE"}


def final_line(text: str) -> str:
    """The judge's last non-empty line, without decoration or a leading "Verdict:" (empty when there is none)."""
    lines = [line for line in text.splitlines() if line.strip(_DECOR)]
    if not lines:
        return ""
    line = lines[-1].strip(_DECOR)
    return _LEAD.sub("", line).strip(_DECOR)


def verdict(text: str) -> str | None:
    """ "A", "B" or "TIE" from a compare judge's answer; None when it gave none of them."""
    word = final_line(text).upper()
    return word if word in _SWAPPED else None


def swap(verdict_flipped: str | None) -> str | None:
    """A verdict of the flipped order (model B's answer shown first) in terms of the original order."""
    return None if verdict_flipped is None else _SWAPPED[verdict_flipped]


def reconcile(verdicts: Sequence[str | None]) -> str:
    """One sample's outcome from its verdicts (original order, then flipped, mapped back): "A", "B", "Tie" or
    "judge_fail". The orders must agree for a win; disagreeing orders are a tie (position bias cancelled)."""
    if not verdicts or any(v is None for v in verdicts):
        return "judge_fail"
    if len(set(verdicts)) > 1 or verdicts[0] == "TIE":
        return "Tie"
    return str(verdicts[0])


def score_of(text: str) -> float | None:
    """The judge's score (a finite number on its last line); None when there is none."""
    try:
        value = float(final_line(text))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def label_of(text: str, labels: Sequence[str]) -> str | None:
    """The one of ``labels`` the judge answered (compared without case); None when it answered none."""
    answer = final_line(text).casefold()
    for label in labels:
        if answer == label.strip().casefold():
            return label
    return None


def _request_block(request: str | None) -> str:
    return f"Request:\n{request}\n\n" if request is not None else ""


def compare_question(request: str | None, first: str, second: str) -> str:
    return (
        "Compare two responses to the same request.\n\n"
        f"{_request_block(request)}Response A:\n{first}\n\nResponse B:\n{second}\n\n"
        "Which response is better? End with one line that says only A, B or TIE."
    )


def score_question(request: str | None, response: str | None, low: float, high: float) -> str:
    shown = f"Response:\n{response}\n\n" if response is not None else ""
    return (
        f"{_request_block(request)}{shown}Rate this from {low:g} to {high:g}. "
        "End with one line that holds only the number."
    )


def classify_question(request: str | None, response: str | None, labels: Sequence[str]) -> str:
    shown = f"Response:\n{response}\n\n" if response is not None else ""
    return (
        f"{_request_block(request)}{shown}Classify this as one of: {', '.join(labels)}. "
        "End with one line that holds only the label."
    )
