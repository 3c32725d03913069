"""Malformed arguments of every tool, unknown ids, and which tools a server offers.

Each rejected call is an error *result* (the model reads it and retries), naming the field at fault, with no
pydantic doc link, no traceback, and none of the SDK's generated ``…Arguments`` class names.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

from byom.config import Settings, load_settings
from byom.engine.state import EngineState
from byom.errors import ConfigError
from byom.server import PROMPTS, RESOURCES, TOOLS, build_server
from byom.tools import AppState
from support.engine import job_body, upload, wait_job
from support.faults import FaultTransport
from support.tool_calls import call_ok

pytestmark = pytest.mark.anyio

HUGE = "x" * 100_000
ALL_TOOLS = [t.name for t in TOOLS]
SPENDS_OR_DELETES = {"create_finetune", "cancel_job", "evaluate_model", "deploy_endpoint", "manage_endpoint"}
FT = "ft-00000000-0000-0000-0000-000000000000"


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def _assert_clean_error(result: CallToolResult, *needles: str) -> str:
    assert result.is_error, result.content
    text = _text(result)
    for needle in needles:
        assert needle in text, text
    assert "pydantic.dev" not in text and "Traceback" not in text and "Arguments" not in text, text
    assert HUGE[:1000] not in text  # the caller's input is never echoed back whole
    assert len(text) < 2_000, text
    return text


# (tool, arguments, a field the message must name)
BAD_ARGUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("inspect_hf_model", {}, "model"),
    ("inspect_hf_model", {"model": 42}, "model"),
    ("inspect_hf_model", {"model": HUGE}, "model"),
    ("inspect_hf_model", {"model": "org/name", "revision": HUGE}, "revision"),
    ("recommend_base", {}, "model"),
    ("recommend_base", {"model": ["org/name"]}, "model"),
    ("recommend_base", {"model": "org/name", "training_type": "qlora"}, "training_type"),
    ("recommend_base", {"model": "org/name", "method": "rlhf"}, "method"),
    ("recommend_base", {"model": "org/name", "max_seq_length": 0}, "max_seq_length"),
    ("create_finetune", {"from_hf_model": "org/name"}, "training_file"),
    ("create_finetune", {"training_file": 7}, "training_file"),
    ("create_finetune", {"training_file": HUGE}, "training_file"),
    ("create_finetune", {"training_file": "t.jsonl", "n_epochs": 0}, "n_epochs"),
    ("create_finetune", {"training_file": "t.jsonl", "n_epochs": "three"}, "n_epochs"),
    ("create_finetune", {"training_file": "t.jsonl", "training_type": "qlora"}, "training_type"),
    ("create_finetune", {"training_file": "t.jsonl", "method": "ppo"}, "method"),
    ("create_finetune", {"training_file": "t.jsonl", "learning_rate": 0}, "learning_rate"),
    ("create_finetune", {"training_file": "t.jsonl", "batch_size": "min"}, "batch_size"),
    ("create_finetune", {"training_file": "t.jsonl", "lora_dropout": 1.0}, "lora_dropout"),
    ("create_finetune", {"training_file": "t.jsonl", "suffix": "no spaces"}, "suffix"),
    ("create_finetune", {"training_file": "t.jsonl", "lr_scheduler": "step"}, "lr_scheduler"),
    ("create_finetune", {"training_file": "t.jsonl", "confirm_token": HUGE}, "confirm_token"),
    ("job_status", {}, "job_id"),
    ("job_status", {"job_id": ""}, "job_id"),
    ("job_status", {"job_id": HUGE}, "job_id"),
    ("job_status", {"job_id": FT, "wait_seconds": 46}, "wait_seconds"),
    ("job_status", {"job_id": FT, "wait_seconds": -1}, "wait_seconds"),
    ("job_status", {"job_id": FT, "events": 51}, "events"),
    ("job_status", {"job_id": FT, "plot": "maybe"}, "plot"),
    ("list_jobs", {"limit": 0}, "limit"),
    ("list_jobs", {"limit": 101}, "limit"),
    ("list_jobs", {"limit": "ten"}, "limit"),
    ("list_jobs", {"status": HUGE}, "status"),
    ("cancel_job", {}, "job_id"),
    ("cancel_job", {"job_id": 12}, "job_id"),
    ("cancel_job", {"job_id": FT, "confirm_token": HUGE}, "confirm_token"),
    ("check_training_data", {}, "path"),
    ("check_training_data", {"path": "/x.jsonl", "preview_rows": 11}, "preview_rows"),
    ("check_training_data", {"path": "/x.jsonl", "purpose": "batch"}, "purpose"),
    ("explain_error", {"job_id": 12}, "job_id"),
    ("explain_error", {"error_text": ["a", "list"]}, "error_text"),
    ("explain_error", {"error_text": "x" * 1_000_001}, "error_text"),
    ("evaluate_model", {"model": 7}, "model"),
    ("evaluate_model", {"model": HUGE}, "model"),
    ("evaluate_model", {"model": FT, "method": "bleu"}, "method"),
    ("evaluate_model", {"model": FT, "judge": HUGE}, "judge"),
    ("evaluate_model", {"model": FT, "data": ["a.jsonl"]}, "data"),
    ("evaluate_model", {"model": FT, "confirm_token": HUGE}, "confirm_token"),
    ("deploy_endpoint", {"job_id": FT, "min_replicas": -1}, "min_replicas"),
    ("deploy_endpoint", {"job_id": FT, "max_replicas": 0}, "max_replicas"),
    ("deploy_endpoint", {"job_id": FT, "max_replicas": 17}, "max_replicas"),
    ("deploy_endpoint", {"job_id": FT, "inactive_timeout": 1441}, "inactive_timeout"),
    ("deploy_endpoint", {"job_id": FT, "lora": "fuse"}, "lora"),
    ("deploy_endpoint", {"job_id": FT, "endpoint_name": "Not A Name"}, "endpoint_name"),
    ("deploy_endpoint", {"job_id": FT, "wait_seconds": 46}, "wait_seconds"),
    ("deploy_endpoint", {"job_id": HUGE}, "job_id"),
    ("manage_endpoint", {}, "endpoint"),
    ("manage_endpoint", {"endpoint": ""}, "endpoint"),
    ("manage_endpoint", {"endpoint": "ep_x", "action": "restart"}, "action"),
    ("manage_endpoint", {"endpoint": HUGE}, "endpoint"),
    ("ask_model", {"job_id": HUGE, "prompt": "hi"}, "job_id"),
    ("ask_model", {"job_id": FT, "prompt": "hi", "max_tokens": 1025}, "max_tokens"),
    ("ask_model", {"job_id": FT, "prompt": "hi", "temperature": 3}, "temperature"),
    ("ask_model", {"job_id": FT, "prompt": "hi", "where": "cloud"}, "where"),
    ("ask_model", {"job_id": FT, "prompt": "x" * 20_001}, "prompt"),
    ("ask_model", {"job_id": FT, "messages": [{"role": "user", "content": "hi"}] * 51}, "messages"),
]


def test_every_tool_has_malformed_argument_cases() -> None:
    assert {tool for tool, _, _ in BAD_ARGUMENTS} == set(ALL_TOOLS)


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    BAD_ARGUMENTS,
    ids=[f"{t}-{f}-{i}" for i, (t, _, f) in enumerate(BAD_ARGUMENTS)],
)
async def test_malformed_arguments_are_error_results_naming_the_field(
    jobs_server: MCPServer[AppState], tool: str, arguments: dict[str, Any], field: str
) -> None:
    async with Client(jobs_server) as client:
        result = await client.call_tool(tool, arguments)
    text = _assert_clean_error(result, "call again")
    # `field: message`; a union's member is tagged on (`batch_size.int: …`).
    assert re.search(rf"\b{field}[:.]", text), text


# Values the schema allows but the domain does not: checked before anything is looked up or sent.
@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({"job_id": FT, "inactive_timeout": 10}, "inactive_timeout"),
        ({"job_id": FT, "inactive_timeout": 29}, "30 to 1440"),
        ({"job_id": FT, "min_replicas": 3, "max_replicas": 1}, "min_replicas ≤ max_replicas"),
    ],
)
async def test_deploy_rejects_what_the_schema_cannot_express(
    jobs_server: MCPServer[AppState], arguments: dict[str, Any], needle: str
) -> None:
    async with Client(jobs_server) as client:
        result = await client.call_tool("deploy_endpoint", arguments)
    _assert_clean_error(result, needle)


@pytest.mark.parametrize("tool", ["job_status", "cancel_job"])
async def test_an_unknown_job_points_to_list_jobs(jobs_server: MCPServer[AppState], tool: str) -> None:
    async with Client(jobs_server) as client:
        result = await client.call_tool(tool, {"job_id": FT})
    _assert_clean_error(result, FT, "list_jobs")


async def test_an_unknown_job_resource_points_to_list_jobs(jobs_server: MCPServer[AppState]) -> None:
    from mcp.shared.exceptions import MCPError

    async with Client(jobs_server) as client:
        with pytest.raises(MCPError, match="list_jobs"):
            await client.read_resource(f"byom://jobs/{FT}")


async def test_deploying_an_unknown_job_is_an_error(jobs_server: MCPServer[AppState]) -> None:
    async with Client(jobs_server) as client:
        result = await client.call_tool("deploy_endpoint", {"job_id": FT})
    _assert_clean_error(result, FT)


@pytest.mark.parametrize("endpoint", ["ep_doesnotexist", "no-such-endpoint"])
@pytest.mark.parametrize("action", ["status", "delete"])
async def test_an_unknown_endpoint_is_an_error(
    jobs_server: MCPServer[AppState], endpoint: str, action: str
) -> None:
    async with Client(jobs_server) as client:
        result = await client.call_tool("manage_endpoint", {"endpoint": endpoint, "action": action})
    _assert_clean_error(result, endpoint, "deploy_endpoint")


@pytest.mark.slow
async def test_cancelling_a_completed_job_says_there_is_nothing_to_cancel(
    jobs_server: MCPServer[AppState],
    engine: tuple[httpx2.AsyncClient, EngineState],
    overfit_bytes: bytes,
    tiny_model: Path,
) -> None:
    http, _ = engine
    file = await upload(http, overfit_bytes)
    created = await http.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model))
    assert created.status_code == 200, created.text
    job = await wait_job(http, created.json()["id"])
    assert job["status"] == "completed", job
    async with Client(jobs_server) as client:
        result = await client.call_tool("cancel_job", {"job_id": job["id"]})
    _assert_clean_error(result, job["id"], "completed", "nothing to cancel")


# ---- which tools a server offers --------------------------------------------------------------------


async def _names(settings: Settings) -> list[str]:
    async with Client(build_server(settings)) as client:
        return [t.name for t in (await client.list_tools()).tools]


async def test_every_tool_is_offered_by_default() -> None:
    assert await _names(Settings()) == ALL_TOOLS


async def test_read_only_hides_every_tool_that_spends_or_deletes() -> None:
    names = await _names(load_settings({"BYOM_READ_ONLY": "1"}))
    assert names == [n for n in ALL_TOOLS if n not in SPENDS_OR_DELETES]
    assert names == [
        "inspect_hf_model",
        "recommend_base",
        "check_training_data",
        "job_status",
        "list_jobs",
        "explain_error",
        "ask_model",  # it bills and deletes nothing
    ]


async def test_the_allow_list_keeps_workflow_order() -> None:
    names = await _names(load_settings({"BYOM_TOOLS": " list_jobs, inspect_hf_model ,job_status"}))
    assert names == ["inspect_hf_model", "job_status", "list_jobs"]


async def test_read_only_wins_over_the_allow_list() -> None:
    names = await _names(load_settings({"BYOM_TOOLS": "create_finetune,job_status", "BYOM_READ_ONLY": "1"}))
    assert names == ["job_status"]


def test_an_unknown_allow_listed_tool_fails_at_build() -> None:
    with pytest.raises(ConfigError, match="create_fine_tune") as err:
        build_server(load_settings({"BYOM_TOOLS": "job_status,create_fine_tune"}))
    assert "create_finetune" in str(err.value)  # the known names, to fix the typo with


# ---- resources and prompts go with their tool (BYOM_TOOLS, BYOM_READ_ONLY) -----------------------------


async def _offered(settings: Settings) -> tuple[set[str], set[str]]:
    """The resource URIs (static and templates) and the prompt names a server offers."""
    async with Client(build_server(settings)) as client:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        uris |= {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        return uris, {p.name for p in (await client.list_prompts()).prompts}


def _only(*tools: str) -> Settings:
    return load_settings({"BYOM_TOOLS": ",".join(tools)})


def _all_but(tool: str) -> Settings:
    return _only(*(n for n in ALL_TOOLS if n != tool))


def test_every_resource_and_prompt_names_a_real_tool() -> None:
    assert {r.tool for r in RESOURCES} - {None} <= set(ALL_TOOLS)
    assert {p.tool for p in PROMPTS} <= set(ALL_TOOLS)


@pytest.mark.parametrize("resource", RESOURCES, ids=[r.uri for r in RESOURCES])
async def test_each_resource_is_offered_only_with_its_tool(resource: Any) -> None:
    if resource.tool is None:  # the server's own setup: no tool's data
        assert resource.uri in (await _offered(_only("inspect_hf_model")))[0]
        return
    assert resource.uri in (await _offered(_only(resource.tool)))[0]
    assert resource.uri not in (await _offered(_all_but(resource.tool)))[0]
    from mcp.shared.exceptions import MCPError

    async with Client(build_server(_all_but(resource.tool))) as client:
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource(resource.uri.replace("{job_id}", FT))


@pytest.mark.parametrize("prompt", PROMPTS, ids=[p.fn.__name__ for p in PROMPTS])
async def test_each_prompt_is_offered_only_with_its_tool(prompt: Any) -> None:
    name = prompt.fn.__name__
    assert name in (await _offered(_only(prompt.tool)))[1]
    assert name not in (await _offered(_all_but(prompt.tool)))[1]
    from mcp.shared.exceptions import MCPError

    async with Client(build_server(_all_but(prompt.tool))) as client:
        with pytest.raises(MCPError):  # the SDK answers an unknown prompt with "Internal server error"
            await client.get_prompt(name, {"model": "org/name", "job_id": FT})


async def test_read_only_keeps_what_reads_and_drops_the_fine_tune_prompt() -> None:
    uris, prompts = await _offered(load_settings({"BYOM_READ_ONLY": "1"}))
    # The job view goes with job_status, which reads; the evaluation view with evaluate_model, which can spend.
    assert uris == {"byom://backend", "byom://catalog/bases", "byom://jobs/{job_id}", "ui://byom/job"}
    assert prompts == {"why_did_my_job_fail"}  # the fine-tune prompt walks through create_finetune


async def test_a_job_is_not_readable_as_a_resource_when_job_status_is_hidden(
    queued: tuple[FaultTransport, EngineState], byom_settings: Settings, tool_args: dict[str, Any]
) -> None:
    """Finding 12: with every job tool excluded, `byom://jobs/<id>` still returned the whole job."""
    from mcp.shared.exceptions import MCPError

    faults = queued[0]
    async with Client(build_server(byom_settings, transport=faults)) as client:
        token = (await call_ok(client, "create_finetune", tool_args))["confirm_token"]
        job_id = (await call_ok(client, "create_finetune", {**tool_args, "confirm_token": token}))["job_id"]
        shown = await client.read_resource(f"byom://jobs/{job_id}")
    assert job_id in shown.contents[0].text  # type: ignore[union-attr]
    no_jobs = byom_settings.model_copy(update={"tools": ("inspect_hf_model", "check_training_data")})
    async with Client(build_server(no_jobs, transport=faults)) as client:
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource(f"byom://jobs/{job_id}")
