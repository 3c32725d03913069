"""Spending limits (BYOM_MAX_USD, BYOM_MAX_USD_PER_DAY, a token's default caps) and what a paid plan says about
its price; nothing is uploaded before the user confirms.

Limits apply only to a backend that costs money, so byom runs as for Together's cloud (``BYOM_BACKEND=together``
with a key and base URL) against the real engine, which speaks the same API. Together's pricing is the one
thing out of reach: the transport rewrites only the answer of ``POST /v1/fine-tunes/estimate-price`` to the
price a test picks; every other request and answer is the engine's own. A local training file is priced
offline (its tokens at the packaged rate: the tiny data costs the $4.00 minimum), Together's estimate is
asked only after the upload that follows a confirmation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import AUTH, BASE_URL, upload
from support.faults import FaultTransport, answer, engine_files, engine_jobs, rewrite_json
from support.tool_calls import call_error, call_ok, text_of

pytestmark = pytest.mark.anyio

ESTIMATE = "/v1/fine-tunes/estimate-price"
CREATE = "/v1/fine-tunes"
FILES = "/v1/files"
MINIMUM = 4.0  # the packaged rate table's minimum charge: what the tiny data costs offline


def priced(usd: float) -> Any:
    return rewrite_json(lambda body: {**body, "estimated_total_price": usd, "user_limit": 1000.0})


def unavailable(reason: str) -> Any:
    return rewrite_json(lambda _: {"estimation_available": False, "unavailable_reason": reason})


def client(settings: Settings, faults: FaultTransport, elicit: bool | None = None, **limits: Any) -> Client:
    """A client of byom over ``faults``; ``elicit``: answers forms (True yes, False no), None: cannot show one."""

    async def answer_form(_context: Any, _params: ElicitRequestParams) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": bool(elicit)})

    server = build_server(settings.model_copy(update=limits), transport=faults)
    return Client(server, elicitation_callback=answer_form if elicit is not None else None)


async def uploaded(faults: FaultTransport, train_file: Path) -> str:
    """The training file uploaded to the engine by hand (as another tool or session would), its id."""
    async with httpx2.AsyncClient(transport=faults, base_url=BASE_URL, headers=AUTH) as http:
        return str((await upload(http, train_file.read_bytes()))["id"])


async def test_an_estimate_above_max_usd_is_refused_naming_the_limit_and_nothing_is_created(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(12.5), forever=True)
    async with client(paid, faults, max_usd=10.0, auto_confirm=True) as c:
        text = await call_error(c, "create_finetune", tool_args)
    assert "BYOM_MAX_USD=$10.00" in text and "$12.50" in text
    assert faults.count("POST", CREATE) == 0
    assert engine_jobs(queued_state) == []


async def test_the_per_day_limit_counts_the_estimates_already_confirmed(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(6.0), forever=True)
    async with client(paid, faults, max_usd_per_day=10.0, auto_confirm=True) as c:
        first = await call_ok(c, "create_finetune", tool_args)
        assert first["status"] == "created"
        # Another job (one more epoch: another request) at the same price: $6 + $6 is above $10 a day.
        text = await call_error(c, "create_finetune", {**tool_args, "n_epochs": tool_args["n_epochs"] + 1})
    assert "BYOM_MAX_USD_PER_DAY=$10.00" in text and "$6.00 was confirmed" in text
    assert faults.count("POST", CREATE) == 1
    assert engine_jobs(queued_state) == [first["job_id"]]


async def test_a_create_the_backend_refused_does_not_count_against_the_day(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(6.0), forever=True)
    async with client(paid, faults, max_usd_per_day=10.0, auto_confirm=True) as c:
        # A definite "no" from the backend: nothing was created, so its $6 is not spent.
        faults.inject("POST", CREATE, answer(400, message="rejected"))
        await call_error(c, "create_finetune", tool_args)
        assert engine_jobs(queued_state) == []
        created = await call_ok(c, "create_finetune", tool_args)
    assert created["status"] == "created"
    assert faults.count("POST", CREATE) == 2


async def test_a_plan_within_the_limits_states_its_cost_the_limits_and_the_template_pricing(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    # Before #14 the plan's price was Together's estimate, asked after an upload; now it is worked out here.
    async with client(paid, faults, max_usd=10.0, max_usd_per_day=25.0) as c:
        result = await c.call_tool("create_finetune", tool_args)
    assert not result.is_error, text_of(result)
    plan = result.structured_content["plan"]
    assert result.structured_content["status"] == "confirmation_required"
    assert plan["costs_money"] is True and plan["price"]["usd"] == MINIMUM
    text = text_of(result)
    for shown in (text, plan["summary"]):
        assert "Estimated cost: $4.00" in shown
        assert "Within BYOM_MAX_USD=$10.00" in shown
        assert "$21.00 of BYOM_MAX_USD_PER_DAY left" in shown
        assert "priced by the base template" in shown
    assert engine_jobs(queued_state) == []


# ---- nothing leaves the machine before the user confirms (#14 finding 5) ------------------------------


async def test_a_plan_uploads_nothing_and_prices_a_local_file_from_its_tokens(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(paid, faults) as c:
        result = await call_ok(c, "create_finetune", tool_args)
    assert result["status"] == "confirmation_required"
    price, training = result["plan"]["price"], result["plan"]["training_file"]
    assert engine_files(queued_state) == [] and faults.count("POST", FILES) == 0
    assert faults.count("POST", ESTIMATE) == 0  # Together cannot price a file it does not have
    assert (training["file_id"], training["uploaded"]) == (None, False)
    assert result["plan"]["request"]["training_file"] == f"sha256:{training['sha256']}"
    assert price["source"] == "offline" and price["usd"] == MINIMUM
    tokens = int(price["train_tokens"])
    assert tokens > 0 and tokens % tool_args["n_epochs"] == 0  # epochs × the file's tokens
    assert f"{tokens:,} tokens × $0.48 per 1M" in price["basis"]  # a 7B base: the up-to-16B SFT LoRA rate
    assert "rate table packaged with byom" in price["basis"]
    assert "uploaded only once you confirm" in result["plan"]["summary"]


async def test_a_refused_or_declined_plan_uploads_nothing(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(paid, faults, max_usd=1.0, auto_confirm=True) as c:
        over_limit = await call_error(c, "create_finetune", tool_args)
    assert "BYOM_MAX_USD=$1.00" in over_limit and "$4.00" in over_limit
    async with client(paid, faults) as c:
        preflight = await call_error(c, "create_finetune", {**tool_args, "lora_r": 1024})
    assert "Nothing was created" in preflight
    async with client(paid, faults, elicit=False) as c:
        declined = await call_ok(c, "create_finetune", tool_args)
    assert declined["status"] == "declined"
    assert engine_files(queued_state) == [] and faults.count("POST", FILES) == 0
    assert engine_jobs(queued_state) == []


async def test_a_confirmed_plan_uploads_then_creates_within_ten_percent_of_the_confirmed_price(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(MINIMUM * 1.1), forever=True)
    async with client(paid, faults, elicit=True) as c:
        created = await call_ok(c, "create_finetune", tool_args)
    assert created["status"] == "created" and engine_jobs(queued_state) == [created["job_id"]]
    assert len(engine_files(queued_state)) == 1 and faults.count("POST", ESTIMATE) == 1


async def test_an_estimate_over_ten_percent_above_the_confirmed_price_asks_again_with_the_new_figure(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(5.0), forever=True)
    async with client(paid, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        text = await call_error(c, "create_finetune", {**tool_args, "confirm_token": token})
        assert "$5.00" in text and "more than 10% above the $4.00" in text and "Nothing was created" in text
        assert engine_jobs(queued_state) == [] and faults.count("POST", CREATE) == 0
        # Asked again: the plan now carries Together's figure for the uploaded bytes, with a token for it.
        again = await call_ok(c, "create_finetune", tool_args)
        assert again["status"] == "confirmation_required"
        assert (again["plan"]["price"]["usd"], again["plan"]["price"]["source"]) == (5.0, "estimate")
        assert again["plan"]["training_file"]["uploaded"] is True
        created = await call_ok(c, "create_finetune", {**tool_args, "confirm_token": again["confirm_token"]})
    assert created["status"] == "created" and engine_jobs(queued_state) == [created["job_id"]]
    assert len(engine_files(queued_state)) == 1  # uploaded once


async def test_with_no_price_offline_the_plan_says_so_and_the_limits_bound_the_estimate(
    paid: Settings,
    faults: FaultTransport,
    queued_state: EngineState,
    tool_args: dict[str, Any],
    train_file: Path,
) -> None:
    # Training data on the backend, validation data local: no offline figure covers both.
    file_id = await uploaded(faults, train_file)
    args = {**tool_args, "training_file": file_id, "validation_file": str(train_file), "n_evals": 1}
    faults.inject("POST", ESTIMATE, priced(12.0), forever=True)
    async with client(paid, faults, max_usd=10.0) as c:
        plan = (await call_ok(c, "create_finetune", args))["plan"]
    assert plan["price"]["usd"] is None and "not known before the upload" in plan["price"]["basis"]
    assert any("checked against BYOM_MAX_USD=$10.00" in note for note in plan["spending"])
    assert "Estimated cost: an unknown amount" in plan["summary"]
    assert engine_files(queued_state) == [file_id] and faults.count("POST", ESTIMATE) == 0
    async with client(paid, faults, max_usd=10.0, auto_confirm=True) as c:
        text = await call_error(c, "create_finetune", args)
    assert "$12.00" in text and "BYOM_MAX_USD=$10.00" in text
    assert engine_jobs(queued_state) == []
    async with client(paid, faults, max_usd=20.0, auto_confirm=True) as c:
        created = await call_ok(c, "create_finetune", args)
    assert created["status"] == "created" and engine_jobs(queued_state) == [created["job_id"]]


# ---- plans confirmed by token: default caps (#14 finding 7) ---------------------------------------------


async def test_a_token_confirmed_plan_is_capped_at_25_dollars_by_default_naming_the_variable(
    paid: Settings,
    faults: FaultTransport,
    queued_state: EngineState,
    tool_args: dict[str, Any],
    train_file: Path,
) -> None:
    file_id = await uploaded(faults, train_file)
    faults.inject("POST", ESTIMATE, priced(30.0), forever=True)
    args = {**tool_args, "training_file": file_id}
    async with client(paid, faults) as c:  # no form: the confirmation would come back as a token
        text = await call_error(c, "create_finetune", args)
    assert "$30.00" in text and "default cap of $25.00 per action for plans confirmed by token" in text
    assert "set BYOM_MAX_USD" in text
    # The user's own limit replaces the default; a form the user answered has only the user's limits (none).
    async with client(paid, faults, max_usd=50.0) as c:
        assert (await call_ok(c, "create_finetune", args))["status"] == "confirmation_required"
    async with client(paid, faults, elicit=True) as c:
        created = await call_ok(c, "create_finetune", args)
    assert created["status"] == "created" and engine_jobs(queued_state) == [created["job_id"]]


async def test_a_token_confirmed_plan_is_held_to_the_default_cap_after_the_upload_too(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(30.0), forever=True)
    async with client(paid, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        text = await call_error(c, "create_finetune", {**tool_args, "confirm_token": token})
    assert "default cap of $25.00 per action" in text and "BYOM_MAX_USD" in text
    assert engine_jobs(queued_state) == [] and faults.count("POST", CREATE) == 0


async def test_token_confirmed_plans_are_capped_at_100_dollars_a_day_by_default(
    paid: Settings,
    faults: FaultTransport,
    queued_state: EngineState,
    tool_args: dict[str, Any],
    train_file: Path,
) -> None:
    file_id = await uploaded(faults, train_file)
    faults.inject("POST", ESTIMATE, priced(20.0), forever=True)
    async with client(paid, faults) as c:
        for epochs in range(1, 6):  # five different jobs at $20: $100 in all
            args = {**tool_args, "training_file": file_id, "n_epochs": epochs}
            token = (await call_ok(c, "create_finetune", args))["confirm_token"]
            assert (await call_ok(c, "create_finetune", {**args, "confirm_token": token}))[
                "status"
            ] == "created"
        text = await call_error(c, "create_finetune", {**tool_args, "training_file": file_id, "n_epochs": 6})
    assert "$100.00 was confirmed in the last 24 h" in text
    assert "default cap of $100.00 per 24 h" in text and "BYOM_MAX_USD_PER_DAY" in text
    assert len(engine_jobs(queued_state)) == 5


async def test_an_unavailable_estimate_with_a_limit_set_is_refused_with_the_reason(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, unavailable("train_file_not_validated"), forever=True)
    async with client(paid, faults, max_usd=10.0, auto_confirm=True) as c:
        text = await call_error(c, "create_finetune", tool_args)
    assert "could not estimate" in text
    assert "train_file_not_validated" in text  # Together's reason, not a guess at it
    assert "BYOM_MAX_USD" in text
    assert faults.count("POST", CREATE) == 0
    assert engine_jobs(queued_state) == []


async def test_an_unavailable_estimate_without_limits_is_shown_as_unknown(
    paid: Settings, faults: FaultTransport, tool_args: dict[str, Any], train_file: Path
) -> None:
    # A file already on the backend is priced by the backend's estimate (a local one offline, see below).
    # The user is asked in a form (a token would bring the default caps, which an unknown price cannot meet).
    file_id = await uploaded(faults, train_file)
    faults.inject("POST", ESTIMATE, unavailable("train_file_not_validated"), forever=True)
    async with client(paid, faults, elicit=False) as c:
        result = await call_ok(c, "create_finetune", {**tool_args, "training_file": file_id})
    assert result["status"] == "declined"
    assert "Estimated cost: an unknown amount" in result["plan"]["summary"]
    assert "train_file_not_validated" in result["plan"]["summary"]


async def test_auto_confirm_says_it_confirmed_without_asking(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, priced(3.0), forever=True)
    async with client(paid, faults, max_usd=10.0, auto_confirm=True) as c:
        result = await c.call_tool("create_finetune", tool_args)
    assert not result.is_error, text_of(result)
    content = result.structured_content
    assert content["status"] == "created" and engine_jobs(queued_state) == [content["job_id"]]
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
