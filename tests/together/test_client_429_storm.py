"""A 429 storm (every answer "rate limited", however long asked to wait): retries stay bounded in count and in
total wait, concurrent calls do not multiply past their own bound, a create is never resent, and the caller
is told it was rate limited. Sleeps are injected (no real waiting)."""

from __future__ import annotations

import anyio
import httpx2
import pytest

from byom.errors import TogetherAPIError
from byom.together import finetune_request
from support.together_api import Recorder

pytestmark = pytest.mark.anyio

RETRIES = 2  # TogetherClient's default
BACKOFF_MAX = 10.0  # TogetherClient's default


def storm(retry_after: str | None) -> Recorder:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Recorder(lambda _r: httpx2.Response(429, json={"message": "Too many requests"}, headers=headers))


@pytest.mark.parametrize("retry_after", [None, "0", "3600", "not-a-number", "Wed, 21 Oct 2099 07:28:00 GMT"])
async def test_a_storm_is_retried_a_bounded_number_of_times_with_a_bounded_wait(
    retry_after: str | None,
) -> None:
    rec = storm(retry_after)
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.retrieve_finetune("ft-1")
    assert len(rec.requests) == 1 + RETRIES
    # An absurd Retry-After (an hour, a date in 2099) is not obeyed: the backoff's cap applies instead.
    assert len(rec.sleeps) == RETRIES and all(0 <= s <= BACKOFF_MAX for s in rec.sleeps), rec.sleeps
    assert info.value.status_code == 429 and "Rate limited" in str(info.value)


async def test_concurrent_calls_in_a_storm_make_at_most_their_own_bound_of_requests() -> None:
    rec = storm("1")
    calls = 25
    errors: list[int] = []
    async with rec.client() as client:

        async def one() -> None:
            try:
                await client.list_finetunes()
            except TogetherAPIError as exc:
                errors.append(exc.status_code or 0)

        async with anyio.create_task_group() as tg:
            for _ in range(calls):
                tg.start_soon(one)
    assert errors == [429] * calls
    assert len(rec.requests) == calls * (1 + RETRIES)
    assert sum(rec.sleeps) == pytest.approx(calls * RETRIES * 1.0)


async def test_a_create_in_a_storm_is_sent_once() -> None:
    rec = storm("1")
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.create_finetune(finetune_request(training_file="file-1", model="base/M", lora_r=8))
    assert len(rec.requests) == 1 and rec.sleeps == []
    assert info.value.status_code == 429


@pytest.mark.parametrize(
    ("retry_after", "said"),
    [
        ("12", "retry after 12 s"),
        ("900", "retry after 15 min"),
        ("Fri, 01 Jan 2099 00:00:00 GMT", "more than two days"),
    ],
)
def test_the_rate_limit_message_says_the_wait_as_a_person_reads_it(retry_after: str, said: str) -> None:
    from byom.together.errors import error_from_response

    request = httpx2.Request("GET", "https://api.together.ai/v1/fine-tunes")
    response = httpx2.Response(
        429, headers={"retry-after": retry_after}, json={"error": {"message": "slow down"}}, request=request
    )
    assert said in str(error_from_response(response))


async def test_a_full_job_queue_is_not_retried_and_is_not_called_a_rate_limit() -> None:
    # The engine's answer when BYOM_ENGINE_MAX_QUEUED jobs already wait (tests/engine/finetunes/test_routes.py).
    said = "The engine's job queue is full: it holds 100 fine-tune jobs waiting to start. Cancel some."
    body = {"error": {"message": said, "type": "rate_limit_error", "param": None, "code": "queue_full"}}
    rec = Recorder(lambda _r: httpx2.Response(429, json=body, headers={"x-should-retry": "false"}))
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.create_finetune(finetune_request(training_file="file-1", model="base/M", lora_r=8))
    assert len(rec.requests) == 1 and rec.sleeps == []
    message = str(info.value)
    assert said in message and "Nothing was created." in message and "Rate limited" not in message
    assert info.value.status_code == 429 and info.value.code == "queue_full"
