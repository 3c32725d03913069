"""Hub failures reach the model as error results that say what to do next, and never carry the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client

from byom.config import Settings
from byom.server import build_server
from support.fakehub import TOKEN, FakeHub, make_inspector
from support.hubrepos import standard_repos

pytestmark = pytest.mark.anyio


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(standard_repos())
    with fake.installed():
        yield fake


def _server(tmp_path: Path, token: str | None = None):  # type: ignore[no-untyped-def]
    settings = Settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    return build_server(settings, inspector=make_inspector(settings, token=token))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("org/does-not-exist", "not found"),
        ("meta-llama/Llama-3.2-1B", "HF_TOKEN"),  # gated: request access, then set HF_TOKEN
        ("org/private-model", "HF_TOKEN"),
        ("HuggingFaceTB/SmolLM2-135M-Instruct@no-such-branch", "revision"),
    ],
)
async def test_fixable_hub_failures_are_tool_errors_with_a_next_step(
    hub: FakeHub, tmp_path: Path, model: str, expected: str
) -> None:
    async with Client(_server(tmp_path)) as client:
        result = await client.call_tool("inspect_hf_model", {"model": model})
    assert result.is_error
    text = result.content[0].text
    assert expected.lower() in text.lower()
    assert TOKEN not in text


async def test_hub_repo_inspected_through_the_server(hub: FakeHub, tmp_path: Path) -> None:
    async with Client(_server(tmp_path)) as client:
        result = await client.call_tool("inspect_hf_model", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct"})
        again = await client.call_tool("inspect_hf_model", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    assert not result.is_error
    data = result.structured_content
    assert data["verdict"] in ("compatible", "compatible_with_warnings")
    assert data["commit_sha"] and data["family"] == "llama" and data["max_context"] == 8192
    assert again.structured_content == data


async def test_gated_repo_with_token_is_inspected_and_token_never_echoed(
    hub: FakeHub, tmp_path: Path
) -> None:
    async with Client(_server(tmp_path, token=TOKEN)) as client:
        result = await client.call_tool("inspect_hf_model", {"model": "meta-llama/Llama-3.2-1B"})
    assert not result.is_error, result.content[0].text
    assert TOKEN not in result.content[0].text
    assert TOKEN not in str(result.structured_content)


async def test_recommend_for_a_hub_repo_follows_the_docs(hub: FakeHub, tmp_path: Path) -> None:
    async with Client(_server(tmp_path)) as client:
        result = await client.call_tool(
            "recommend_base", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "together": True}
        )
    assert not result.is_error
    assert result.structured_content["base_model"] == "togethercomputer/llama-2-7b-chat"
