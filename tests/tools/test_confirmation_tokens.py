"""The confirm_token flow of hosts that cannot elicit: a plan first, then exactly that plan, once.

The client declares no elicitation, so create_finetune and cancel_job answer with the plan and a token; the
backend is the real engine (its runner not started, so a job stays queued and cancellable). Over streamable
HTTP (the app `byom mcp --http` serves, in process), a token is good only in the session it was issued to.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
from mcp import Client
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.state import EngineState
from byom.http_auth import HttpAuth
from byom.http_auth import http_app as serve_http
from byom.ledger import Ledger
from byom.server import build_server
from support.faults import FaultTransport, engine_files, engine_jobs
from support.spends import spends
from support.tool_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

CREATE = "/v1/fine-tunes"


def client(settings: Settings, faults: FaultTransport) -> Client:
    return Client(build_server(settings, transport=faults))  # no elicitation_callback: the token flow


def job_row(engine: EngineState, job_id: str) -> str:
    row = engine.db.one("SELECT status FROM jobs WHERE id = ?", (job_id,))
    assert row is not None
    return str(row["status"])


async def test_a_create_asks_first_then_runs_with_its_token_and_the_token_works_once(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    # force_new throughout: a plan that already made a job needs no confirmation at all (it is returned).
    args = {**tool_args, "force_new": True}
    async with client(byom_settings, faults) as c:
        asked = await call_ok(c, "create_finetune", args)
        assert asked["status"] == "confirmation_required"
        token = asked["confirm_token"]
        assert token and token in asked["note"]
        assert asked["job_id"] is None
        assert faults.count("POST", CREATE) == 0 and engine_jobs(queued_state) == []
        assert spends(byom_settings) == []  # not even a ledger row before the user agreed

        created = await call_ok(c, "create_finetune", {**args, "confirm_token": token})
        assert created["status"] == "created"
        assert engine_jobs(queued_state) == [created["job_id"]]

        text = await call_error(c, "create_finetune", {**args, "confirm_token": token})
    assert "already used" in text and "Nothing was started" in text
    assert faults.count("POST", CREATE) == 1
    assert engine_jobs(queued_state) == [created["job_id"]]


async def test_the_same_arguments_after_the_create_return_its_job_whatever_the_token(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        created = await call_ok(c, "create_finetune", {**tool_args, "confirm_token": token})
        again = await call_ok(c, "create_finetune", {**tool_args, "confirm_token": token})
    assert (again["status"], again["job_id"]) == ("existing", created["job_id"])
    assert engine_jobs(queued_state) == [created["job_id"]]


async def test_a_tampered_token_is_refused(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        text = await call_error(c, "create_finetune", {**tool_args, "confirm_token": tampered})
        assert "not one this server issued" in text
        # The real one still holds: a refused guess does not burn it.
        created = await call_ok(c, "create_finetune", {**tool_args, "confirm_token": token})
    assert created["status"] == "created"
    assert engine_jobs(queued_state) == [created["job_id"]]


async def test_a_token_confirms_only_the_plan_it_came_with(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults) as c:
        token = (await call_ok(c, "create_finetune", tool_args))["confirm_token"]
        changed = {**tool_args, "n_epochs": tool_args["n_epochs"] + 1, "confirm_token": token}
        text = await call_error(c, "create_finetune", changed)
    assert "different plan" in text
    assert "without confirm_token" in text  # the next step: get the current plan and a new token
    assert faults.count("POST", CREATE) == 0 and engine_jobs(queued_state) == []


async def test_an_expired_token_is_refused(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
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
    assert faults.count("POST", CREATE) == 0 and engine_jobs(queued_state) == []


async def test_cancel_asks_first_then_cancels_with_its_token(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    auto = byom_settings.model_copy(update={"auto_confirm": True})
    async with client(auto, faults) as c:
        job_a = (await call_ok(c, "create_finetune", tool_args))["job_id"]
        job_b = (await call_ok(c, "create_finetune", {**tool_args, "force_new": True}))["job_id"]
    async with client(byom_settings, faults) as c:
        asked = await call_ok(c, "cancel_job", {"job_id": job_a})
        assert asked["status"] == "confirmation_required" and asked["confirm_token"]
        assert job_row(queued_state, job_a) == "queued"  # nothing was cancelled yet

        # A's token cannot cancel B: it is bound to the job it was shown with.
        text = await call_error(c, "cancel_job", {"job_id": job_b, "confirm_token": asked["confirm_token"]})
        assert "different plan" in text
        assert job_row(queued_state, job_b) == "queued"

        done = await call_ok(c, "cancel_job", {"job_id": job_a, "confirm_token": asked["confirm_token"]})
        assert (done["status"], done["job_status"]) == ("cancelled", "cancelled")
        assert job_row(queued_state, job_a) == "cancelled"
        status = await call_ok(c, "job_status", {"job_id": job_a})
        assert status["status"] == "cancelled"

        text = await call_error(c, "cancel_job", {"job_id": job_a, "confirm_token": asked["confirm_token"]})
        assert "nothing to cancel" in text
    assert job_row(queued_state, job_b) == "queued"


# ---- a token is bound to the client it was shown to (#14 finding 17) -----------------------------------

MCP_TOKEN = "mcp-test-token-0123456789abcdef"


@asynccontextmanager
async def http_app(settings: Settings, faults: FaultTransport) -> AsyncIterator[httpx2.AsyncClient]:
    """byom's streamable HTTP app on loopback, in process; every request carries the server's bearer token."""
    settings = settings.model_copy(update={"mcp_token": SecretStr(MCP_TOKEN)})
    app = serve_http(
        build_server(settings, transport=faults),
        "127.0.0.1",
        8376,
        HttpAuth(token=SecretStr(MCP_TOKEN), source="BYOM_MCP_TOKEN"),
        settings,
    )
    headers = {
        "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {MCP_TOKEN}",
        "host": "127.0.0.1:8376",
    }
    async with (
        app.router.lifespan_context(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8376", headers=headers
        ) as http,
    ):
        yield http


class HttpSession:
    """One MCP session over raw JSON-RPC (a client that declares no elicitation: the token flow)."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http
        self.headers: dict[str, str] = {}
        self.ids = 0

    async def post(self, method: str, params: dict[str, Any], *, notify: bool = False) -> Any:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notify:
            self.ids += 1
            message["id"] = self.ids
        r = await self.http.post("/mcp", json=message, headers=self.headers)
        assert r.status_code in (200, 202), r.text
        if notify:
            return None
        self.headers.setdefault("mcp-session-id", r.headers["mcp-session-id"])
        body = r.text
        if r.headers["content-type"].startswith("text/event-stream"):  # the answer is the last data line
            body = [line[5:] for line in body.splitlines() if line.startswith("data:")][-1]
        return json.loads(body)["result"]

    async def open(self) -> HttpSession:
        await self.post(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"},
            },
        )
        self.headers["mcp-protocol-version"] = "2025-06-18"
        await self.post("notifications/initialized", {}, notify=True)
        return self

    async def create(self, args: dict[str, Any]) -> tuple[bool, dict[str, Any] | None, str]:
        result = await self.post("tools/call", {"name": "create_finetune", "arguments": args})
        text = "\n".join(block.get("text", "") for block in result["content"])
        return bool(result.get("isError")), result.get("structuredContent"), text


async def test_a_token_from_one_http_session_does_not_confirm_in_another(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    async with http_app(byom_settings, faults) as http:
        shown = await HttpSession(http).open()
        other = await HttpSession(http).open()
        assert shown.headers["mcp-session-id"] != other.headers["mcp-session-id"]
        failed, asked, _ = await shown.create(tool_args)
        assert not failed and asked is not None and asked["status"] == "confirmation_required"

        failed, _, text = await other.create({**tool_args, "confirm_token": asked["confirm_token"]})
        assert failed and "issued to another client" in text and "Nothing was started" in text
        assert engine_jobs(queued_state) == [] and engine_files(queued_state) == []

        # The session that was shown the plan still can: the foreign attempt did not burn the token.
        failed, created, text = await shown.create({**tool_args, "confirm_token": asked["confirm_token"]})
    assert not failed, text
    assert created is not None and created["status"] == "created"
    assert engine_jobs(queued_state) == [created["job_id"]]
