"""Spending limits (BYOM_MAX_USD, BYOM_MAX_USD_PER_DAY) and what a paid plan says about its price.

Limits apply only to a backend that costs money, so byom runs as for Together's cloud (``BYOM_BACKEND=together``
with a key and base URL) against the real engine, which speaks the same API. Together's pricing is the one
thing out of reach: the transport rewrites only the answer of ``POST /v1/fine-tunes/estimate-price`` to the
price a test picks; every other request and answer is the engine's own.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import BASE_URL, KEY
from support.faults import FaultTransport, answer, engine_jobs, rewrite_json
from support.tool_calls import call_error, call_ok, text_of

pytestmark = pytest.mark.anyio

ESTIMATE = "/v1/fine-tunes/estimate-price"
CREATE = "/v1/fine-tunes"


def priced(usd: float) -> Any:
    return rewrite_json(lambda body: {**body, "estimated_total_price": usd, "user_limit": 1000.0})


def unavailable(reason: str) -> Any:
    return rewrite_json(lambda _: {"estimation_available": False, "unavailable_reason": reason})


@pytest.fixture
def paid(byom_settings: Settings) -> Settings:
    """byom configured for Together's cloud, with the engine standing in for api.together.ai."""
    return byom_settings.model_copy(
        update={
            "backend_choice": "together",
            "together_api_key": SecretStr(KEY),
            "together_base_url": BASE_URL,
        }
    )


@pytest.fixture
def faults(queued: tuple[FaultTransport, EngineState]) -> FaultTransport:
    return queued[0]


@pytest.fixture
def engine(queued: tuple[FaultTransport, EngineState]) -> EngineState:
    return queued[1]


def client(settings: Settings, faults: FaultTransport, **limits: Any) -> Client:
    return Client(build_server(settings.model_copy(update=limits), transport=faults))


async def test_an_estimate_above_max_usd_is_refused_naming_the_limit_and_nothing_is_created(
    paid: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(12.5), forever=True)
    async with client(paid, faults, max_usd=10.0, auto_confirm=True) as c:
        text = await call_error(c, "create_finetune", tool_args)
    assert "BYOM_MAX_USD=$10.00" in text and "$12.50" in text
    assert faults.count("POST", CREATE) == 0
    assert engine_jobs(engine) == []


async def test_the_per_day_limit_counts_the_estimates_already_confirmed(
    paid: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(6.0), forever=True)
    async with client(paid, faults, max_usd_per_day=10.0, auto_confirm=True) as c:
        first = await call_ok(c, "create_finetune", tool_args)
        assert first["status"] == "created"
        # Another job (one more epoch: another request) at the same price: $6 + $6 is above $10 a day.
        text = await call_error(c, "create_finetune", {**tool_args, "n_epochs": tool_args["n_epochs"] + 1})
    assert "BYOM_MAX_USD_PER_DAY=$10.00" in text and "$6.00 was confirmed" in text
    assert faults.count("POST", CREATE) == 1
    assert engine_jobs(engine) == [first["job_id"]]


async def test_a_create_the_backend_refused_does_not_count_against_the_day(
    paid: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(6.0), forever=True)
    async with client(paid, faults, max_usd_per_day=10.0, auto_confirm=True) as c:
        # A definite "no" from the backend: nothing was created, so its $6 is not spent.
        faults.inject("POST", CREATE, answer(400, message="rejected"))
        await call_error(c, "create_finetune", tool_args)
        assert engine_jobs(engine) == []
        created = await call_ok(c, "create_finetune", tool_args)
    assert created["status"] == "created"
    assert faults.count("POST", CREATE) == 2


async def test_a_plan_within_the_limits_states_its_cost_the_limits_and_the_template_pricing(
    paid: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(4.0), forever=True)
    async with client(paid, faults, max_usd=10.0, max_usd_per_day=25.0) as c:
        result = await c.call_tool("create_finetune", tool_args)
    assert not result.is_error, text_of(result)
    plan = result.structured_content["plan"]
    assert result.structured_content["status"] == "confirmation_required"
    assert plan["costs_money"] is True and plan["price"]["usd"] == 4.0
    text = text_of(result)
    for shown in (text, plan["summary"]):
        assert "Estimated cost: $4.00" in shown
        assert "Within BYOM_MAX_USD=$10.00" in shown
        assert "$21.00 of BYOM_MAX_USD_PER_DAY left" in shown
        assert "priced by the base template" in shown
    assert engine_jobs(engine) == []


async def test_an_unavailable_estimate_with_a_limit_set_is_refused_with_the_reason(
    paid: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, unavailable("train_file_not_validated"), forever=True)
    async with client(paid, faults, max_usd=10.0, auto_confirm=True) as c:
        text = await call_error(c, "create_finetune", tool_args)
    assert "could not estimate" in text
    assert "train_file_not_validated" in text  # Together's reason, not a guess at it
    assert "BYOM_MAX_USD" in text
    assert faults.count("POST", CREATE) == 0
    assert engine_jobs(engine) == []


async def test_an_unavailable_estimate_without_limits_is_shown_as_unknown(
    paid: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, unavailable("train_file_not_validated"), forever=True)
    async with client(paid, faults) as c:
        result = await call_ok(c, "create_finetune", tool_args)
    assert result["status"] == "confirmation_required"
    assert "Estimated cost: an unknown amount" in result["plan"]["summary"]
    assert "train_file_not_validated" in result["plan"]["summary"]


async def test_auto_confirm_says_it_confirmed_without_asking(
    paid: Settings, faults: FaultTransport, engine: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(3.0), forever=True)
    async with client(paid, faults, max_usd=10.0, auto_confirm=True) as c:
        result = await c.call_tool("create_finetune", tool_args)
    assert not result.is_error, text_of(result)
    content = result.structured_content
    assert content["status"] == "created" and engine_jobs(engine) == [content["job_id"]]
    assert "BYOM_AUTO_CONFIRM" in content["note"] and "without asking" in content["note"]
    assert "BYOM_AUTO_CONFIRM" in text_of(result)


async def test_a_paid_plan_reads_the_live_catalog_through_the_backend_it_creates_on(
    paid: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    """The recommended base comes from the catalog of the backend the job is priced and limited by, over the
    server's own client (its transport), never a second client of its own that bypasses it."""
    faults.inject("POST", ESTIMATE, priced(1.0), forever=True)
    async with client(paid, faults) as c:
        result = await call_ok(c, "create_finetune", tool_args)
    assert result["plan"]["model_source"] == "recommended"
    assert faults.count("GET", "/v2/supported-models") >= 1
