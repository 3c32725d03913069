"""explain_error never contradicts itself: no retry next to "retrying fails", no job id without a job, no
"restart the server" for a path or a variable; checked on every pattern, every hint and the generic answer."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import yaml

from byom.together import FinetuneResponse
from byom.tools.triage import render_explanation
from byom.triage import Explanation, Pattern, explain_job, explain_text, load_patterns

SAMPLES: dict[str, str] = yaml.safe_load((Path(__file__).parent / "samples.yaml").read_text(encoding="utf-8"))
CATALOG = load_patterns()
EVERY = {p.id: p for p in (*CATALOG.patterns, *CATALOG.hints)}
# Retrying the same call as it is (not "fix X, then retry").
_RETRY_AS_IS = re.compile(
    r"^(?:retry|try again|wait\b[^.;]*\bretry)\b|\bretry (?:once|later|in (?:a|\d))", re.IGNORECASE
)
_RETRY_FAILS = re.compile(
    r"will fail the same way|retrying (?:as it is )?(?:will fail|fails|cannot help)", re.IGNORECASE
)
_RESTART_SERVER = re.compile(r"restart (?:the|byom's|the MCP) server", re.IGNORECASE)
_JOB_ID = re.compile(r"\bjob id\b", re.IGNORECASE)
UNRECOGNISED = 'Traceback (most recent call last):\n  File "x.py", line 1\nFrobnicationError: the widget sprocket wobbled'


def _contradictions(e: Explanation, *, job: bool, filled: bool = True) -> list[str]:
    found = []
    verdict = render_explanation(e).splitlines()[-1]
    for fix in e.fixes:
        if not e.retryable and _RETRY_AS_IS.search(fix.strip()):
            found.append(f"retry advised, but {verdict!r}: {fix}")
        if e.retryable and _RETRY_FAILS.search(fix):
            found.append(f"retrying said to fail, but retryable: {fix}")
        if _RESTART_SERVER.search(fix):
            found.append(f"restart the server: {fix}")
        if not job and _JOB_ID.search(fix):
            found.append(f"a job id without a job: {fix}")
        if filled and re.search(r"\{\w+\}", fix):
            found.append(f"an unfilled placeholder: {fix}")
    if e.confidence == "unknown" and ("will fail" in verdict or "may help" in verdict):
        found.append(f"a retry verdict on an unrecognised error: {verdict}")
    return found


def _as_explanation(pattern: Pattern) -> Explanation:
    return Explanation(
        category=pattern.category,
        cause=pattern.cause,
        fixes=list(pattern.fixes),
        retryable=pattern.retryable,
        confidence="matched",
    )


@pytest.mark.parametrize("pattern_id", sorted(EVERY))
def test_no_pattern_or_hint_gives_contradictory_advice(pattern_id: str) -> None:
    pattern = EVERY[pattern_id]
    assert not _contradictions(_as_explanation(pattern), job=True, filled=False)
    # Its fixes as explain_text fills them, with no job: no job id promised.
    filled = explain_text(_sample_for(pattern))
    if filled.pattern_id == pattern_id:
        assert not _contradictions(filled, job=False)


def _sample_for(pattern: Pattern) -> str:
    return SAMPLES[pattern.id]


def test_the_generic_answer_promises_no_retry_and_names_no_job_when_there_is_none() -> None:
    e = explain_text(UNRECOGNISED)
    assert e.category == "unknown" and e.confidence == "unknown"
    assert not _contradictions(e, job=False)
    text = render_explanation(e)
    assert "retry once" not in text and "job id" not in text
    assert "Whether retrying as it is helps is not known." in text


def test_the_generic_answer_for_a_job_names_that_job() -> None:
    job = FinetuneResponse.model_validate(
        {
            "id": "ft-1234abcd-0000",
            "status": "error",
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
    )
    e = explain_job(job, [])
    assert e.confidence in ("unknown", "inferred from status")
    assert not _contradictions(e, job=True)
    if e.confidence == "unknown":
        assert any("ft-1234abcd-0000" in fix for fix in e.fixes)


def test_a_fix_with_job_names_the_job_only_when_there_is_one() -> None:
    text = "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error, NCCL version 2.20.5\nncclSystemError: System call failed"
    alone = explain_text(text)
    assert alone.pattern_id == "nccl-error"
    assert not any(_JOB_ID.search(f) for f in alone.fixes)
    assert any("the full error text" in f for f in alone.fixes)
