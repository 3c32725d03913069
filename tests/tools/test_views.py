"""The MCP App views in a real browser: headless Chromium runs each view inside a minimal host page that speaks
the Apps protocol, with its tool calls answered by a real byom-mcp; the checks read what a person would see."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from byom.apps import JOB_VIEW, view_html
from byom.engine.state import EngineState
from byom.tools import AppState
from support.apps_host import chromium_or_skip, open_host
from support.engine import FAST_JOB
from support.faults import FaultTransport, engine_jobs
from support.mcp_stack import Session, Stack, ok
from support.poll import HANG_S

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
WAIT_MS = HANG_S * 1000


def _shot(page_or_frame: Any, name: str) -> str | None:
    """Where to save a screenshot (BYOM_SCREENSHOTS=dir, e.g. docs/ when the README's pictures are redone)."""
    folder = os.environ.get("BYOM_SCREENSHOTS")
    return str(Path(folder) / name) if folder else None


async def test_the_job_view_follows_a_real_training_job_to_its_end(
    tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> None:
    chromium_or_skip()
    from playwright.async_api import expect

    train = tmp_path / "train.jsonl"
    train.write_bytes(overfit_bytes)
    stack = Stack(tmp_path, tiny_model.parent)
    try:
        with stack.http_server() as url:
            async with stack.http_session(url, Session()) as client:
                base = ok(await client.call_tool("recommend_base", {"model": str(tiny_model)}))["base_model"]
                args = {
                    "training_file": str(train),
                    "from_hf_model": str(tiny_model),
                    "model": base,
                    **FAST_JOB,
                }
                created = await client.call_tool("create_finetune", args)
                job_id = ok(created)["job_id"]

                async with open_host(view_html(JOB_VIEW), client.call_tool) as host:
                    await host.deliver(args, created)
                    view = host.frame
                    await expect(view.locator("#job")).to_have_text(job_id)
                    # The view refreshes through the host until the job ends, then stops and hides Cancel.
                    await expect(view.locator("#status")).to_contain_text("completed", timeout=WAIT_MS)
                    await expect(view.locator("#cancel")).to_be_hidden()
                    final = ok(await client.call_tool("job_status", {"job_id": job_id}))
                    assert final["ended"] is True
                    await expect(view.locator(".stages li.now")).to_have_text(final["stage"])
                    points = await view.locator("#train-curve").get_attribute("data-points")
                    assert points is not None and int(points) == len(final["loss"]["train"]) > 1
                    if final["loss"]["chance_loss"] is not None:
                        await expect(view.locator("#chance")).to_have_count(1)
                    await expect(view.locator("#judgment")).not_to_be_empty()
                    assert set(await host.calls()) == {"job_status"}
                    assert not host.console_errors, host.console_errors
                    if where := _shot(host.page, "job-view.png"):
                        await host.page.locator("#view").screenshot(path=where)
    finally:
        stack.stop_engine()


@pytest.fixture
def queued_client(queued: tuple[FaultTransport, EngineState], byom_settings: Any) -> MCPServer[AppState]:
    from byom.server import build_server

    return build_server(byom_settings, transport=queued[0])


async def test_cancel_in_the_view_asks_the_user_and_does_nothing_else(
    queued_client: MCPServer[AppState],
    queued: tuple[FaultTransport, EngineState],
    tool_args: dict[str, Any],
) -> None:
    """The Cancel button calls cancel_job through the host; cancel_job asks the user (here: declined) and the
    job is still there, queued. Hostile text in an event renders as text, never as markup."""
    chromium_or_skip()
    from playwright.async_api import expect

    asked: list[str] = []

    async def elicit(_context: Any, params: Any) -> Any:
        from mcp.types import ElicitResult

        asked.append(params.message)
        # The launch is accepted; the cancel the view asks for is declined.
        return ElicitResult(action="accept" if len(asked) == 1 else "decline", content={"confirm": True})

    async with Client(queued_client, elicitation_callback=elicit) as client:
        created = await client.call_tool("create_finetune", tool_args)
        job_id = ok(created)["job_id"]
        status = await client.call_tool("job_status", {"job_id": job_id})
        shown = ok(status)
        # A hostile event as a training run could write it, in the result the host hands the view.
        shown["events"] = [{"at": None, "type": "job_start", "level": "info", "message": HOSTILE}]
        hostile = CallToolResult(content=status.content, structured_content=shown)

        async def call_tool(name: str, arguments: dict[str, Any]) -> CallToolResult:
            return await client.call_tool(name, arguments)

        async with open_host(view_html(JOB_VIEW), call_tool, theme="dark") as host:
            await host.deliver({"job_id": job_id}, hostile)
            view = host.frame
            await expect(view.locator("#job")).to_have_text(job_id)
            await expect(view.locator("#events")).to_contain_text(HOSTILE)
            assert await view.locator("#events img, #events script").count() == 0
            assert await host.page.title() == "host"

            await view.locator("#cancel").click()
            await expect(view.locator("#notice")).not_to_be_empty(timeout=WAIT_MS)
            assert len(asked) == 2 and job_id in asked[1]
            assert "cancel_job" in await host.calls()
            assert not host.console_errors, host.console_errors
            if where := _shot(host.page, "job-view-queued-dark.png"):
                await host.page.locator("#view").screenshot(path=where)
    state = queued[1]
    assert engine_jobs(state) == [job_id]
    row = state.db.query("SELECT status FROM jobs WHERE id = ?", (job_id,))[0]
    assert row["status"] == "queued"


async def test_the_evaluation_view_shows_a_real_loss_evaluation_and_escapes_samples(
    engine_transport: tuple[Any, EngineState],
    byom_settings: Any,
    tool_args: dict[str, Any],
    train_file: Path,
) -> None:
    """A job trained on the local engine, evaluated against its base (held-out loss and forgetting); the view
    shows the same table and verdict as the result, and a judged sample's hostile text as text."""
    chromium_or_skip()
    from playwright.async_api import expect

    from byom.apps import EVALUATION_VIEW
    from byom.server import build_server
    from support.poll import until
    from support.tool_calls import call_ok

    auto = byom_settings.model_copy(update={"auto_confirm": True})
    async with Client(build_server(auto, transport=engine_transport[0])) as client:
        job_id = (await call_ok(client, "create_finetune", tool_args))["job_id"]

        async def ended() -> bool:
            status = await call_ok(client, "job_status", {"job_id": job_id, "wait_seconds": 10})
            return bool(status["ended"])

        await until(ended, f"job {job_id} to end", interval=0)
        arguments = {"model": job_id, "data": str(train_file)}
        result = await client.call_tool("evaluate_model", arguments)
        first = ok(result)

        async def evaluated() -> CallToolResult | None:
            again = await client.call_tool("evaluate_model", {"model": first["report"]["evaluation_id"]})
            return again if ok(again)["report"]["status"] not in ("pending", "queued", "running") else None

        if first["report"]["status"] != "completed":
            result = await until(evaluated, "the evaluation")
        report = ok(result)["report"]
        assert report["status"] == "completed", report

        async with open_host(view_html(EVALUATION_VIEW), client.call_tool) as host:
            await host.deliver(arguments, result)
            view = host.frame
            await expect(view.locator("#outcome")).to_have_text(report["outcome"])
            await expect(view.locator("#table tr")).to_have_count(len(report["table"]))
            first_row = report["table"][0]
            await expect(view.locator("#table tr").first).to_contain_text(first_row["measure"])
            await expect(view.locator("#verdict")).to_have_text(report["verdict"])
            assert not host.console_errors, host.console_errors
            if where := _shot(host.page, "evaluation-view.png"):
                await host.page.locator("#view").screenshot(path=where)

            # A judged comparison's samples are model output: hostile text must stay text.
            shown = ok(result)
            shown["report"] = {
                **report,
                "method": "compare",
                "samples": [{"prompt": HOSTILE, "baseline": HOSTILE, "fine_tuned": "fine", "decision": "B"}],
            }
            await host.deliver(arguments, CallToolResult(content=result.content, structured_content=shown))
            await expect(view.locator("#samples")).to_contain_text(HOSTILE)
            assert await view.locator("#samples img, #samples script").count() == 0
            assert await host.page.title() == "host"
            assert not host.console_errors, host.console_errors
