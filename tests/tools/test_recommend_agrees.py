"""recommend_base and inspect_hf_model give one answer about the template (issue #16), through the server.

The Hub is the fake one; Together is the real local engine standing in (its limits and model list).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import BASE_URL, KEY
from support.fakehub import FakeHub, FakeRepo, json_bytes, make_inspector
from support.faults import FaultTransport
from support.hubrepos import SMOL_CONFIG, SMOL_PARAMS, _tok, _weights, standard_repos

pytestmark = pytest.mark.anyio

GEMMA2_2B_PARAMS = 2_614_341_888


def _repo(repo_id: str, config: dict[str, Any], params: int) -> FakeRepo:
    return FakeRepo(
        repo_id,
        {
            "config.json": json_bytes(config),
            "model.safetensors": _weights(),
            "tokenizer.json": b"{}",
            "tokenizer_config.json": _tok(),
        },
        safetensors={"parameters": {"BF16": params}, "total": params},
    )


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(
        [
            *standard_repos(),
            _repo(
                "google/gemma-2-2b-it",
                {
                    "architectures": ["Gemma2ForCausalLM"],
                    "model_type": "gemma2",
                    "vocab_size": 256000,
                    "hidden_size": 2304,
                    "num_hidden_layers": 26,
                    "num_attention_heads": 8,
                    "max_position_embeddings": 8192,
                    "transformers_version": "4.42.4",
                },
                GEMMA2_2B_PARAMS,
            ),
            _repo("org/llama-512", {**SMOL_CONFIG, "max_position_embeddings": 512}, 8_030_261_248),
        ]
    )
    with fake.installed():
        yield fake


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        cache_dir=tmp_path / "cache", data_dir=tmp_path / "data", backend_choice="local"
    ).model_copy(update=changes)


@pytest.fixture
def together(hub: FakeHub, queued: tuple[FaultTransport, EngineState], byom_settings: Settings) -> Client:
    """A client of byom-mcp on Together (the real local engine standing in, its limits read live)."""
    settings = byom_settings.model_copy(
        update={
            "backend_choice": "together",
            "together_api_key": SecretStr(KEY),
            "together_base_url": BASE_URL,
        }
    )
    return Client(build_server(settings, inspector=make_inspector(settings), transport=queued[0]))


async def _both(client: Client, model: str, **rec_args: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    inspected = await client.call_tool("inspect_hf_model", {"model": model})
    rec = await client.call_tool("recommend_base", {"model": model, **rec_args})
    assert not inspected.is_error and not rec.is_error, (inspected.content, rec.content)
    assert inspected.structured_content is not None and rec.structured_content is not None
    return inspected.structured_content, rec.structured_content, rec.content[0].text  # type: ignore[union-attr]


def _template(report: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in report["findings"] if f["check"] == "together_base")


async def test_a_template_that_breaks_the_rule_is_not_plain_compatible(together: Client) -> None:
    async with together as client:
        report, rec, _ = await _both(client, "google/gemma-2-2b-it")
    # Before: COMPATIBLE, while recommend_base picked a 16,384-context image+text Gemma-3-12B.
    assert report["verdict"] == "compatible_with_warnings"
    finding = _template(report)
    assert finding["status"] == "warn"
    assert rec["base_model"] == "google/gemma-3-1b-it" and rec["base_model"] in finding["evidence"]
    assert "different family: gemma3 for your gemma2" in finding["evidence"]
    assert "least violation" in finding["evidence"]


async def test_the_two_tools_agree_on_a_base_that_follows_the_rule(together: Client) -> None:
    async with together as client:
        report, rec, _ = await _both(client, "HuggingFaceTB/SmolLM2-135M-Instruct")
    finding = _template(report)
    assert finding["status"] == "pass" and rec["rule_breaks"] == []
    assert rec["next_step"] in finding["evidence"] and "togethercomputer/llama-2-7b-chat" in rec["next_step"]


async def test_known_limits_win_for_a_512_context_llama(hub: FakeHub, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    async with Client(build_server(settings, inspector=make_inspector(settings))) as client:
        result = await client.call_tool("recommend_base", {"model": "org/llama-512", "together": True})
    rec, text = result.structured_content, result.content[0].text  # type: ignore[union-attr]
    assert rec is not None and rec["base_model"] == "togethercomputer/llama-2-7b-chat"  # not DeepSeek-R1-…
    assert any("least violation" in w for w in rec["rule_breaks"])
    assert "limits endpoint" not in text and "Limits: the packaged list dated" in text


async def test_no_base_of_the_family_is_a_warning(together: Client) -> None:
    async with together as client:
        result = await client.call_tool("inspect_hf_model", {"model": "org/olmo-tiny"})
    report = result.structured_content
    assert report is not None and report["verdict"] == "compatible_with_warnings"
    finding = _template(report)
    assert finding["status"] == "warn" and "no base of the olmo family" in finding["evidence"]
    assert "[WARN] together_base" in result.content[0].text  # type: ignore[union-attr]


async def test_a_together_base_is_fine_tuned_directly_in_both_tools(hub: FakeHub, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    call = 'create_finetune(model="mistralai/Mixtral-8x7B-v0.1", training_file="<your .jsonl>")'
    async with Client(build_server(settings, inspector=make_inspector(settings))) as client:
        report, rec, text = await _both(client, "mistralai/Mixtral-8x7B-v0.1")
    assert rec["direct"] and rec["next_step"] == call
    assert "fine-tune it directly, no BYOM needed" in text and call in text
    finding = _template(report)
    assert "fine-tune it directly, no BYOM needed" in finding["evidence"] and call in finding["evidence"]


async def test_the_local_engine_trains_the_model_itself_unless_together_is_asked(
    hub: FakeHub, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    async with Client(build_server(settings, inspector=make_inspector(settings))) as client:
        report, data, text = await _both(client, "google/gemma-2-2b-it")
        cloud = await client.call_tool("recommend_base", {"model": "google/gemma-2-2b-it", "together": True})
    assert data["backend"] == "local" and data["alternatives"] == [] and data["base_model"] == "byom/local"
    assert "trains google/gemma-2-2b-it itself with its own template byom/local: no Together base" in text
    assert "Together's BYOM rule does not apply" in text and "batch size 1–8" in text and "borrow" not in text
    # inspect_hf_model says the same (before: "the Together base … breaks the BYOM rule", a gemma-3 pick).
    finding = _template(report)
    assert finding["status"] == "pass" and data["explanation"] in finding["evidence"]
    assert "breaks the BYOM rule" not in finding["evidence"] and report["verdict"] == "compatible"
    assert (
        data["next_step"]
        == 'create_finetune(from_hf_model="google/gemma-2-2b-it", training_file="<your .jsonl>")'
    )
    assert cloud.structured_content is not None and cloud.structured_content["backend"] == "together"
    assert cloud.structured_content["alternatives"] and cloud.structured_content["rule_breaks"]


async def test_with_a_together_key_the_limits_are_read_live(
    hub: FakeHub, queued: tuple[FaultTransport, EngineState], byom_settings: Settings
) -> None:
    faults = queued[0]
    settings = byom_settings.model_copy(
        update={
            "backend_choice": "together",
            "together_api_key": SecretStr(KEY),
            "together_base_url": BASE_URL,
        }
    )
    server = build_server(settings, inspector=make_inspector(settings), transport=faults)
    async with Client(server) as client:
        report, rec, text = await _both(client, "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert faults.count("GET", "/v1/fine-tunes/models/limits") >= 1
    assert rec["catalog_origin"] == "live" and rec["backend"] == "together"
    assert "Limits: Together's live limits (fetched" in text and "TOGETHER_API_KEY" not in text
    assert _template(report)["status"] == "pass"


async def test_inspect_stands_without_a_backend(hub: FakeHub, tmp_path: Path) -> None:
    settings = _settings(tmp_path, backend_choice="together", together_api_key=None)
    async with Client(build_server(settings, inspector=make_inspector(settings))) as client:
        result = await client.call_tool("inspect_hf_model", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct"})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["param_count"] == SMOL_PARAMS
