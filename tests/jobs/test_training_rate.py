"""A job's training rate: its tokens over the time it trained, the one rule job_status shows and plans use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from byom.jobs.duration import training_rate
from byom.together import FinetuneEvent, FinetuneResponse

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _event(kind: str, seconds: float) -> FinetuneEvent:
    return FinetuneEvent(type=kind, created_at=T0 + timedelta(seconds=seconds))


def _job(tokens: int | None) -> FinetuneResponse:
    return FinetuneResponse(id="ft-1", status="completed", token_count=tokens)


def test_the_rate_is_the_tokens_over_the_training_time_without_loading_or_saving() -> None:
    events = [
        _event("job_start", 0),
        _event("model_downloaded", 5),
        _event("training_start", 10),
        _event("epoch_complete", 20),
        _event("training_complete", 40),
        _event("model_compression_complete", 90),  # saving: not training time
    ]
    rate = training_rate(_job(30_000), events)
    assert rate is not None
    assert rate.seconds == 30 and rate.tokens_per_second == pytest.approx(1_000)


def test_a_resumed_job_counts_from_its_first_start_to_its_last_completion() -> None:
    events = [_event("training_start", 0), _event("training_start", 10), _event("training_complete", 20)]
    rate = training_rate(_job(2_000), events)
    assert rate is not None and rate.seconds == 20


@pytest.mark.parametrize(
    ("tokens", "events"),
    [
        (None, [_event("training_start", 0), _event("training_complete", 10)]),  # no token count reported
        (0, [_event("training_start", 0), _event("training_complete", 10)]),
        (1_000, [_event("training_start", 0)]),  # still training
        (1_000, [_event("training_complete", 10)]),
        (1_000, [_event("training_start", 10), _event("training_complete", 10)]),  # no time: no rate
        (1_000, []),
    ],
)
def test_no_rate_where_the_job_does_not_say(tokens: int | None, events: list[FinetuneEvent]) -> None:
    assert training_rate(_job(tokens), events) is None
