"""Failure triage: find the root error of a failed fine-tune and explain it from a catalogue of known patterns.

``explain_text()`` classifies pasted text (a traceback, a log tail, an API error body); ``explain_job()`` also
reads a job's status and events. The knowledge is data: ``patterns.yaml``, validated by ``PatternCatalog``
when first loaded (``load_patterns()``); a new pattern needs no code change. Its ``hints`` answer when no
pattern knows the message, from the traceback's exception types and modules (``inferred from the stack``).
"""

from typing import TYPE_CHECKING, Any

from byom.triage._catalog import (
    CATEGORIES,
    Category,
    Correction,
    DocsClass,
    Pattern,
    PatternCatalog,
    Stage,
    load_patterns,
    parse_patterns,
)
from byom.triage._models import Confidence, CorrectedCall, Explanation, JobContext
from byom.triage._stages import EVENT_STAGES

if TYPE_CHECKING:
    from byom.triage._explain import explain_job, explain_text
    from byom.triage._root import Block, Root, find_root

__all__ = [
    "CATEGORIES",
    "EVENT_STAGES",
    "Block",
    "Category",
    "Confidence",
    "CorrectedCall",
    "Correction",
    "DocsClass",
    "Explanation",
    "JobContext",
    "Pattern",
    "PatternCatalog",
    "Root",
    "Stage",
    "explain_job",
    "explain_text",
    "find_root",
    "load_patterns",
    "parse_patterns",
]


def __getattr__(name: str) -> Any:
    # The root finder and the corrections (their regexes and models) load on the first explanation, not at start.
    if name in ("explain_job", "explain_text"):
        from byom.triage import _explain

        return getattr(_explain, name)
    if name in ("Block", "Root", "find_root"):
        from byom.triage import _root

        return getattr(_root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
