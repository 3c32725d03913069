"""The MCP surface: tool list, schemas, annotations, results and error results, in both protocol modes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client

from byom.jobs.settings import default_learning_rate
from byom.server import INSTRUCTIONS, build_server

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"
MODES = ["auto", "legacy"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


WORKFLOW = [
    "inspect_hf_model",
    "recommend_base",
    "check_training_data",
    "create_finetune",
    "job_status",
    "list_jobs",
    "cancel_job",
    "explain_error",
    "evaluate_model",
    "deploy_endpoint",
    "manage_endpoint",
    "ask_model",
]
# (read_only, destructive, idempotent, open_world): spending tools are not idempotent (a repeat is
# deduplicated, not free); stopping or deleting is destructive; reads change nothing; check_training_data
# writes a new file when asked (a converted copy), never replacing one; ask_model bills and deletes nothing but may
# download weights into the cache and load a model, and a sampled answer differs from call to call.
ANNOTATIONS = {
    "inspect_hf_model": (True, False, True, True),
    "recommend_base": (True, False, True, True),
    "check_training_data": (False, False, True, True),
    "create_finetune": (False, False, False, True),
    "job_status": (True, False, True, True),
    "list_jobs": (True, False, True, True),
    "cancel_job": (False, True, True, True),
    "explain_error": (True, False, True, True),
    "evaluate_model": (False, False, False, True),
    "deploy_endpoint": (False, False, False, True),
    "manage_endpoint": (False, True, True, True),
    "ask_model": (False, False, False, True),
}


async def test_tools_are_listed_in_workflow_order_with_titles_and_deliberate_annotations(mode: str) -> None:
    async with Client(build_server(), mode=mode) as client:
        tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == WORKFLOW
    for tool in tools:
        assert tool.title
        assert tool.description and len(tool.description) < 600
        assert tool.output_schema is not None
        ann = tool.annotations
        assert ann is not None
        hints = (ann.read_only_hint, ann.destructive_hint, ann.idempotent_hint, ann.open_world_hint)
        assert hints == ANNOTATIONS[tool.name], tool.name
        undescribed = {
            name for name, prop in tool.input_schema["properties"].items() if not prop.get("description")
        }
        assert not undescribed, f"{tool.name}: describe {undescribed}"
        assert "title" not in json.dumps(tool.input_schema), (
            "generated titles are dropped (they repeat the names)"
        )


async def test_tool_definitions_the_model_reads_stay_under_budget() -> None:
    """What hosts put in the model's context is each tool's name, description and input schema: Anthropic's
    and OpenAI's tool definitions carry no output schema and no annotations. That is what the tight budget
    measures; every host pays it on every turn. The full tools/list payload (output schemas included) only
    crosses the wire once per session, so it gets a separate, looser cap. 16,000 characters (about 4k tokens)
    for at most twelve tools is the product's ceiling (issue #18); create_finetune's arguments are a third of it.
    The payload cap grew with the tools (ten: 60,000; twelve: 72,000): output schemas are the structured results'
    contract, read by clients and views, never by the model."""
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools
    for_the_model = json.dumps(
        [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools]
    )
    assert len(tools) <= 12, "Cursor sends the first 40 tools of all servers together: stay small"
    assert len(for_the_model) < 16_000
    payload = json.dumps([t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools])
    assert len(payload) < 72_000


async def test_the_learning_rate_description_names_every_default_the_plan_uses() -> None:
    """A DPO run took 5e-6 while the description promised 1e-3: the model told the user the wrong setting."""
    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    described = tools["create_finetune"].input_schema["properties"]["learning_rate"]["description"]
    for method in ("sft", "dpo"):
        for training_type in ("lora", "full"):
            rate, _ = default_learning_rate(method, training_type)
            assert f"{rate:.0e}".replace("e-0", "e-") in described, (method, training_type, described)


async def test_tool_schemas_match_the_snapshot() -> None:
    """Interface changes are deliberate: regenerate with BYOM_UPDATE_SNAPSHOTS=1 and review the diff."""
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools
    current = {
        t.name: {
            "title": t.title,
            "annotations": t.annotations.model_dump(mode="json", exclude_none=True)
            if t.annotations
            else None,
            "input_schema": t.input_schema,
            "output_schema": t.output_schema,
        }
        for t in tools
    }
    if os.environ.get("BYOM_UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


async def test_tool_definitions_are_built_once_and_again_only_when_the_tools_change() -> None:
    """Hosts list tools on every connection: the titles stripped and the docstrings dedented once, not per list."""
    server = build_server()
    first = await server.list_tools()
    again = await server.list_tools()
    assert [a is b for a, b in zip(first, again, strict=True)] == [True] * len(first)
    server.remove_tool("list_jobs")
    assert [t.name for t in await server.list_tools()] == [n for n in WORKFLOW if n != "list_jobs"]


async def test_server_tells_the_model_the_workflow() -> None:
    assert "inspect_hf_model" in INSTRUCTIONS and "recommend_base" in INSTRUCTIONS
    for mode in MODES:
        async with Client(build_server(), mode=mode) as client:
            assert "recommend_base" in (client.instructions or "")
            assert client.server_info is not None and client.server_info.name == "byom-mcp"


async def test_inspect_a_local_checkpoint(mode: str, tiny_llama_dir: Path, tiny_llama_params: int) -> None:
    async with Client(build_server(), mode=mode) as client:
        result = await client.call_tool("inspect_hf_model", {"model": str(tiny_llama_dir)})
    assert not result.is_error, result.content
    data = result.structured_content
    assert data is not None
    for key in (
        "verdict",
        "findings",
        "is_causal_lm",
        "needs_remote_code",
        "param_count",
        "max_context",
        "is_adapter",
        "base_model",
        "quantization",
        "is_moe",
        "gated",
        "commit_sha",
    ):
        assert key in data
    assert data["is_causal_lm"] is True
    assert data["param_count"] == tiny_llama_params
    assert data["max_context"] == 2048
    assert data["verdict"] in ("compatible", "compatible_with_warnings")
    text = result.content[0].text
    assert len(text) < 6_000
    assert data["verdict"].replace("_", " ").upper() in text


async def test_inspect_missing_directory_is_an_error_result_with_a_next_step(
    mode: str, tmp_path: Path
) -> None:
    async with Client(build_server(), mode=mode) as client:
        result = await client.call_tool("inspect_hf_model", {"model": str(tmp_path / "nope")})
    assert result.is_error
    text = result.content[0].text
    # A ToolError keeps the domain message (what was wrong, what to do) after the SDK's prefix.
    assert "nope" in text and "Give the path" in text


async def test_inspect_rejects_an_empty_model_argument() -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("inspect_hf_model", {"model": ""})
    assert result.is_error


async def test_recommend_reproduces_the_byom_docs_example(mode: str, smollm2_dir: Path) -> None:
    async with Client(build_server(), mode=mode) as client:
        result = await client.call_tool("recommend_base", {"model": str(smollm2_dir), "together": True})
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["base_model"] == "togethercomputer/llama-2-7b-chat"
    assert "meta-llama/Llama-3.2-1B-Instruct" != data["base_model"]
    assert len(data["alternatives"]) <= 4
    assert len(result.content[0].text) < 6_000


async def test_recommend_validates_arguments() -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("recommend_base", {"model": "x/y", "training_type": "qlora"})
    assert result.is_error


async def test_prompt_is_offered() -> None:
    async with Client(build_server()) as client:
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["finetune_my_model", "why_did_my_job_fail"]
        got = await client.get_prompt("finetune_my_model", {"model": "org/name"})
    assert "inspect_hf_model" in got.messages[0].content.text


async def test_rejected_arguments_read_field_and_message_without_pydantic_links(mode: str) -> None:
    async with Client(build_server(), mode=mode) as client:
        bad = await client.call_tool("recommend_base", {"model": "x/y", "training_type": "qlora"})
        missing = await client.call_tool("recommend_base", {"training_type": "lora"})
    assert bad.is_error and missing.is_error
    text = bad.content[0].text
    assert "training_type: Input should be 'lora' or 'full'" in text
    assert "pydantic.dev" not in text and "qlora" not in text and "recommend_baseArguments" not in text
    assert "model: Field required" in missing.content[0].text
