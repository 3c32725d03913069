"""The one sequence-length rule: min(requested, the model's context, the base's limit), the context from
config.json before the tokenizer, and transformers' 1e30 "no limit" sentinel never taken for a context."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from byom.data import DEFAULT_SEQ, decide_max_seq_length, tokenizer_limit

SENTINEL = SimpleNamespace(model_max_length=int(1e30))


def test_the_configs_context_wins_over_a_sentinel_tokenizer() -> None:
    seq = decide_max_seq_length(None, config={"max_position_embeddings": 512}, tokenizer=SENTINEL)
    assert (seq.value, seq.context, seq.context_source) == (512, 512, "config.json")
    assert seq.explain() == "max_seq_length 512: the smallest of the model's context 512 (config.json)."


def test_the_config_comes_before_a_stale_tokenizer_maximum() -> None:
    stale = SimpleNamespace(model_max_length=4096)
    assert decide_max_seq_length(None, config={"n_positions": 512}, tokenizer=stale).value == 512


def test_a_real_tokenizer_maximum_counts_when_the_config_says_nothing() -> None:
    seq = decide_max_seq_length(None, config={}, tokenizer=SimpleNamespace(model_max_length=1024))
    assert (seq.value, seq.context_source) == (1024, "tokenizer model_max_length")


@pytest.mark.parametrize(
    ("requested", "context", "base", "expected"),
    [
        (None, 8192, 4096, 4096),  # the base's limit
        (None, 512, 4096, 512),  # the model's context
        (1024, 8192, 4096, 1024),  # the request
        (None, None, None, DEFAULT_SEQ),  # nothing known
    ],
)
def test_the_smallest_known_limit(
    requested: int | None, context: int | None, base: int | None, expected: int
) -> None:
    assert decide_max_seq_length(requested, context=context, base_limit=base).value == expected


def test_a_request_over_the_context_is_flagged_for_the_caller() -> None:
    seq = decide_max_seq_length(1024, config={"max_position_embeddings": 512}, base_limit=4096)
    assert seq.over_context and seq.value == 512
    assert not decide_max_seq_length(512, context=512).over_context


def test_tokenizer_limit_ignores_sentinels_and_non_integers() -> None:
    assert tokenizer_limit(SENTINEL) is None
    assert tokenizer_limit(SimpleNamespace(model_max_length=True)) is None
    assert tokenizer_limit(SimpleNamespace()) is None
    assert tokenizer_limit(SimpleNamespace(model_max_length=2048)) == 2048
