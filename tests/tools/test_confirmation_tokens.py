"""The confirm_token flow of hosts that cannot elicit: a plan first, then exactly that plan, once.

The client declares no elicitation, so create_finetune and cancel_job answer with the plan and a token; the
backend is the real engine (its runner not started, so a job stays queued and cancellable).
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from byom.config import Settings
from byom.engine.state import EngineState
from byom.ledger import Ledger
from byom.server import build_server
from support.faults import FaultTransport, engine_jobs
from support.spends import spends
from support.tool_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

CREATE = "/v1/fine-tunes"


@pytest.fixture
def faults(queued: tuple[FaultTransport, EngineState]) -> FaultTransport:
    return queued[0]


@pytest.fixture
def engine(queued: tuple[FaultTransport, EngineState]) -> EngineState:
    return queued[1]


def client(settings: Settings, faults: FaultTransport) -> Client:
    return Client(build_server(settings, transport=faults))  # no elicitation_callback: the token flow


def job_row(engine: EngineState, job_id: str) -> str:
    row = engine.db.one("SELECT status FROM jobs WHERE id = ?", (job_id,))
    assert row is not None
    return str(row["status"])


async def test_a_create_asks_first_then_runs_with_its_token_and_the_token_works_once(
    byom_settings: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    # force_new throughout: a plan that already made a job needs no confirmation at all (it is returned).
    args = {**tool_args, "force_new": True}
    async with client(byom_settings, faults) as c:
        asked = await call_ok(c, "create_finetune", args)
        assert asked["status"] == "confirmation_required"
        token = asked["confirm_token"]
        assert token and token in asked["note"]
        assert asked["job_id"] is None
        assert faults.count("POST", CREATE) == 0 and engine_jobs(engine) == []
        assert spends(byom_settings) == []  # not even a ledger row before the user agreed

        created = await call_ok(c, "create_finetune", {**args, "confirm_token": token})
        assert created["status"] == "created"
        assert engine_jobs(engine) == [created["job_id"]]

        text = await call_error(c, "create_finetune", {**args, "confirm_token": token})
    assert "already used" in text and "Nothing was started" in text
    assert faults.count("POST", CREATE) == 1
    assert engine_jobs(engine) == [created["job_id"]]


async def test_the_same_arguments_after_the_create_return_its_job_whatever_the_token(
    byom_settings: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        created = await call_ok(c, "create_finetune", {**tool_args, "confirm_token": token})
        again = await call_ok(c, "create_finetune", {**tool_args, "confirm_token": token})
    assert (again["status"], again["job_id"]) == ("existing", created["job_id"])
    assert engine_jobs(engine) == [created["job_id"]]


async def test_a_tampered_token_is_refused(
    byom_settings: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        text = await call_error(c, "create_finetune", {**tool_args, "confirm_token": tampered})
        assert "not one this server issued" in text
        # The real one still holds: a refused guess does not burn it.
        created = await call_ok(c, "create_finetune", {**tool_args, "confirm_token": token})
    assert created["status"] == "created"
    assert engine_jobs(engine) == [created["job_id"]]


async def test_a_token_confirms_only_the_plan_it_came_with(
    byom_settings: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        changed = {**tool_args, "n_epochs": tool_args["n_epochs"] + 1, "confirm_token": token}
        text = await call_error(c, "create_finetune", changed)
    assert "different plan" in text
    assert "without confirm_token" in text  # the next step: get the current plan and a new token
    assert faults.count("POST", CREATE) == 0 and engine_jobs(engine) == []


async def test_an_expired_token_is_refused(
    byom_settings: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults) as c:
        plan_hash = (await call_ok(c, "create_finetune", tool_args))["plan"]["plan_hash"]
        ledger = Ledger(byom_settings.ledger_path)  # the server's own ledger file
        try:
            stale = ledger.issue_token(plan_hash, ttl_s=-1)
        finally:
            ledger.close()
        text = await call_error(c, "create_finetune", {**tool_args, "confirm_token": stale})
    assert "expired" in text
    assert faults.count("POST", CREATE) == 0 and engine_jobs(engine) == []


async def test_cancel_asks_first_then_cancels_with_its_token(
    byom_settings: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    auto = byom_settings.model_copy(update={"auto_confirm": True})
    async with client(auto, faults) as c:
        job_a = (await call_ok(c, "create_finetune", tool_args))["job_id"]
        job_b = (await call_ok(c, "create_finetune", {**tool_args, "force_new": True}))["job_id"]
    async with client(byom_settings, faults) as c:
        asked = await call_ok(c, "cancel_job", {"job_id": job_a})
        assert asked["status"] == "confirmation_required" and asked["confirm_token"]
        assert job_row(engine, job_a) == "queued"  # nothing was cancelled yet

        # A's token cannot cancel B: it is bound to the job it was shown with.
        text = await call_error(c, "cancel_job", {"job_id": job_b, "confirm_token": asked["confirm_token"]})
        assert "different plan" in text
        assert job_row(engine, job_b) == "queued"

        done = await call_ok(c, "cancel_job", {"job_id": job_a, "confirm_token": asked["confirm_token"]})
        assert (done["status"], done["job_status"]) == ("cancelled", "cancelled")
        assert job_row(engine, job_a) == "cancelled"
        status = await call_ok(c, "job_status", {"job_id": job_a})
        assert status["status"] == "cancelled"

        text = await call_error(c, "cancel_job", {"job_id": job_a, "confirm_token": asked["confirm_token"]})
        assert "nothing to cancel" in text
    assert job_row(engine, job_b) == "queued"
