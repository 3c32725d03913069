"""The job tools under faults on the wire to the engine: retries where safe, at most one job per create.

The backend is the real engine app (its runner not started, so jobs stay queued); only the network between
byom-mcp and it is faked, by ``FaultTransport`` around the engine's ``ASGITransport``. A 5xx retry sleeps the
client's real backoff (about 1 + 2 s); nothing waits on it, the tests count requests.
"""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from mcp import Client

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.faults import FaultTransport, answer, engine_jobs, fail_unsent, lose_answer
from support.tool_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

CREATE = "/v1/fine-tunes"


@pytest.fixture
def auto(byom_settings: Settings) -> Settings:
    """Confirmation is not the point here: BYOM_AUTO_CONFIRM=1."""
    return byom_settings.model_copy(update={"auto_confirm": True})


def client(settings: Settings, faults: FaultTransport) -> Client:
    return Client(build_server(settings, transport=faults))


async def _create(c: Client, args: dict[str, Any]) -> dict[str, Any]:
    return await call_ok(c, "create_finetune", args)


# ---- reads: retried on 429 / 5xx, bounded --------------------------------------------------------------


async def test_job_status_retries_a_429_after_its_retry_after(
    auto: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    async with client(auto, faults) as c:
        job_id = (await _create(c, tool_args))["job_id"]
        path = f"{CREATE}/{job_id}"
        faults.inject("GET", path, answer(429, headers={"Retry-After": "0.01"}))
        before = faults.count("GET", path)
        status = await call_ok(c, "job_status", {"job_id": job_id})
    assert status["job_id"] == job_id
    assert faults.count("GET", path) - before == 2  # the 429, then the retry that succeeded


async def test_job_status_rides_out_a_500_then_a_503(
    auto: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    async with client(auto, faults) as c:
        job_id = (await _create(c, tool_args))["job_id"]
        path = f"{CREATE}/{job_id}"
        # Together's retry-after-ms: the same retries, without the default backoff's seconds of waiting.
        soon = {"retry-after-ms": "20"}
        faults.inject("GET", path, answer(500, headers=soon), answer(503, headers=soon))
        before = faults.count("GET", path)
        status = await call_ok(c, "job_status", {"job_id": job_id})
    assert status["status"] == "queued"
    assert faults.count("GET", path) - before == 3


async def test_a_job_status_that_keeps_failing_is_a_clear_tool_error_and_the_server_keeps_serving(
    auto: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    async with client(auto, faults) as c:
        job_id = (await _create(c, tool_args))["job_id"]
        path = f"{CREATE}/{job_id}"
        soon = {"retry-after-ms": "20"}  # the same retries, without the default backoff's seconds of waiting
        faults.inject("GET", path, answer(500, headers=soon, message="the disk is on fire"), forever=True)
        before = faults.count("GET", path)
        text = await call_error(c, "job_status", {"job_id": job_id})
        assert faults.count("GET", path) - before == 3  # one try and two retries, then it gives up
        assert "500" in text and "the disk is on fire" in text
        assert "engine.log" in text and "Retry" in text  # the next step: where the engine says why
        listed = await call_ok(c, "list_jobs", {})
    assert [j["job_id"] for j in listed["jobs"]] == [job_id]


# ---- the create: sent again only when it provably never left; a lost answer is found, not repeated -------


async def test_a_create_refused_at_connect_is_sent_again_and_makes_one_job(
    auto: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", CREATE, fail_unsent(httpx2.ConnectError))
    async with client(auto, faults) as c:
        created = await _create(c, tool_args)
    assert created["status"] == "created"
    assert faults.count("POST", CREATE) == 2
    assert engine_jobs(queued_state) == [created["job_id"]]


@pytest.mark.parametrize("lost", [httpx2.ReadError, httpx2.ReadTimeout], ids=["reset", "read-timeout"])
async def test_a_create_whose_answer_is_lost_returns_the_job_the_engine_made(
    auto: Settings,
    faults: FaultTransport,
    queued_state: EngineState,
    tool_args: dict[str, Any],
    lost: type[httpx2.TransportError],
) -> None:
    faults.inject("POST", CREATE, lose_answer(lost))
    async with client(auto, faults) as c:
        created = await _create(c, tool_args)
        assert faults.count("POST", CREATE) == 1  # never sent again
        (job_id,) = engine_jobs(queued_state)
        assert created["job_id"] == job_id
        assert created["status"] == "existing"
        assert "lost" in created["note"]
        # The ledger now knows the job: the same call again returns it, and still nothing is sent.
        again = await _create(c, tool_args)
    assert (again["status"], again["job_id"]) == ("existing", job_id)
    assert faults.count("POST", CREATE) == 1
    assert engine_jobs(queued_state) == [job_id]


async def test_a_lost_create_the_engine_never_saw_is_an_error_then_the_next_call_makes_one_job(
    auto: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    # A reset before the engine read the request looks the same as one after it: the outcome is unknown.
    faults.inject("POST", CREATE, fail_unsent(httpx2.ReadError))
    async with client(auto, faults) as c:
        text = await call_error(c, "create_finetune", tool_args)
        assert "answer was lost" in text and "create_finetune again" in text
        assert engine_jobs(queued_state) == []
        created = await _create(c, tool_args)
    assert created["status"] == "created"
    assert engine_jobs(queued_state) == [created["job_id"]]
    assert faults.count("POST", CREATE) == 2


async def test_a_create_answered_500_is_a_tool_error_sent_once_and_a_later_call_makes_one_job(
    auto: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", CREATE, answer(500, message="scheduler unavailable"))
    async with client(auto, faults) as c:
        text = await call_error(c, "create_finetune", tool_args)
        assert "500" in text and "scheduler unavailable" in text and "Retry" in text
        assert faults.count("POST", CREATE) == 1  # a POST create is never retried on an answer
        assert engine_jobs(queued_state) == []
        created = await _create(c, tool_args)
    assert created["status"] == "created"
    assert faults.count("POST", CREATE) == 2
    assert engine_jobs(queued_state) == [created["job_id"]]


# ---- the same create twice --------------------------------------------------------------------------


async def test_the_same_create_twice_returns_the_first_job_and_force_new_makes_another(
    auto: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(auto, faults) as c:
        first = await _create(c, tool_args)
        second = await _create(c, tool_args)
        assert first["status"] == "created"
        assert (second["status"], second["job_id"]) == ("existing", first["job_id"])
        assert second["plan"]["existing_job_id"] == first["job_id"]
        # A dry run of the same request says so in its text, not only in a field (trial E).
        again = await call_ok(c, "create_finetune", {**tool_args, "dry_run": True})
        assert f"This exact request already created job {first['job_id']}" in again["plan"]["summary"]
        assert "force_new=true" in again["plan"]["summary"]
        assert engine_jobs(queued_state) == [first["job_id"]]
        third = await _create(c, {**tool_args, "force_new": True})
    assert third["status"] == "created"
    assert third["job_id"] != first["job_id"]
    assert engine_jobs(queued_state) == [first["job_id"], third["job_id"]]
    assert faults.count("POST", CREATE) == 2


async def test_a_second_server_sees_the_first_servers_job_in_the_ledger(
    auto: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    """Hosts restart MCP servers often: the ledger, not the process, remembers the create."""
    async with client(auto, faults) as c:
        first = await _create(c, tool_args)
    async with client(auto, faults) as c:
        again = await _create(c, tool_args)
    assert (again["status"], again["job_id"]) == ("existing", first["job_id"])
    assert engine_jobs(queued_state) == [first["job_id"]]


async def test_a_lost_force_new_create_is_never_answered_with_the_older_job(
    auto: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    """The older job of the same request matches the lost create's files and model, but the ledger already
    accounts for it: it is not the job this create made."""
    async with client(auto, faults) as c:
        first = await _create(c, tool_args)
        faults.inject("POST", CREATE, fail_unsent(httpx2.ReadError))
        text = await call_error(c, "create_finetune", {**tool_args, "force_new": True})
        assert "answer was lost" in text and "create_finetune again" in text
        assert engine_jobs(queued_state) == [first["job_id"]]
        retried = await _create(c, {**tool_args, "force_new": True})
    assert retried["status"] == "created"
    assert retried["job_id"] != first["job_id"]
    assert engine_jobs(queued_state) == [first["job_id"], retried["job_id"]]


async def test_a_create_refused_by_a_full_engine_queue_is_a_clear_tool_error_sent_once(
    auto: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    queued_state.settings = queued_state.settings.model_copy(update={"engine_max_queued": 1})
    async with client(auto, faults) as c:
        first = await _create(c, tool_args)
        text = await call_error(c, "create_finetune", {**tool_args, "n_epochs": 2})
    assert faults.count("POST", CREATE) == 2  # the refused create was not sent again
    assert engine_jobs(queued_state) == [first["job_id"]]
    assert (
        "holds 1 fine-tune job waiting to start" in text
        and "Cancel queued jobs" in text
        and "Nothing was created." in text
    )
    assert "Rate limited" not in text
