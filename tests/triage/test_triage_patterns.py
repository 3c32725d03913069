"""Every catalogue pattern against a realistic log excerpt (tests/triage/samples.yaml), bare and wrapped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from byom.triage import explain_text, load_patterns

SAMPLES: dict[str, str] = yaml.safe_load((Path(__file__).parent / "samples.yaml").read_text(encoding="utf-8"))
PATTERNS = {p.id: p for p in (*load_patterns().patterns, *load_patterns().hints)}
IDS = list(PATTERNS)

# What launchers print around a child's real error: warnings before, torchrun's summary after.
_BEFORE = """\
/usr/lib/python3.11/site-packages/transformers/training_args.py:1609: FutureWarning: `evaluation_strategy` is deprecated
  warnings.warn(
/usr/lib/python3.11/site-packages/torch/utils/checkpoint.py:91: UserWarning: None of the inputs have requires_grad=True
  warnings.warn(
"""
_AFTER = """\
E1130 10:11:05.102000 140 torch/distributed/elastic/multiprocessing/api.py:869] failed (exitcode: 1) local_rank: 0 (pid: 141) of binary: /usr/bin/python3
Traceback (most recent call last):
  File "/usr/local/bin/torchrun", line 8, in <module>
    sys.exit(main())
torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
train.py FAILED
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  exitcode  : 1 (pid: 141)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================
"""


def test_every_pattern_has_a_sample_and_every_sample_a_pattern() -> None:
    assert sorted(SAMPLES) == sorted(IDS)


def test_samples_are_log_excerpts_not_bare_messages() -> None:
    assert all(len(text.strip().splitlines()) >= 2 for text in SAMPLES.values())


@pytest.mark.parametrize("pattern_id", IDS)
def test_sample_classifies_to_its_pattern(pattern_id: str) -> None:
    text = SAMPLES[pattern_id]
    explanation = explain_text(text)
    assert explanation.pattern_id == pattern_id, explanation.evidence
    pattern = PATTERNS[pattern_id]
    hint = pattern in load_patterns().hints  # a hint answers only when no pattern matched the message
    assert explanation.confidence == ("inferred from the stack" if hint else "matched")
    assert explanation.category == pattern.category and explanation.docs_class == pattern.docs_class
    assert explanation.retryable is pattern.retryable
    assert explanation.evidence and len(explanation.evidence) <= 300
    for got, fix in zip(explanation.fixes[-len(pattern.fixes) :], pattern.fixes, strict=True):
        # {job} and {engine_key_file} are filled in; the rest of the fix is the catalogue's.
        expected = re.escape(fix).replace(r"\{job\}", ".+").replace(r"\{engine_key_file\}", ".+")
        assert re.fullmatch(expected, got), (got, fix)


@pytest.mark.parametrize("pattern_id", IDS)
def test_sample_survives_warnings_before_and_a_launcher_wrapper_after(pattern_id: str) -> None:
    assert explain_text(_BEFORE + SAMPLES[pattern_id] + _AFTER).pattern_id == pattern_id
