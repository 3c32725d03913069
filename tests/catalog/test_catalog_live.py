"""load_catalog(): live refresh from a MockTransport speaking Together's shapes, TTL cache, fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from byom.catalog import CustomModelFacts, load_catalog, load_packaged_catalog, recommend
from byom.catalog._live import CACHE_FILE, LIMITS_CONCURRENCY
from byom.config import Settings
from byom.together import TogetherClient
from support.together_api import supported_model as _model

pytestmark = pytest.mark.anyio

KEY = "tk-live-secret-abcdef"
BASE_URL = "https://api.together.test"


def _limits(
    name: str, sft: int, dpo: int, *, lora_max: int = 8, full: dict[str, int] | None = None
) -> dict[str, object]:
    return {
        "model_name": name,
        "default_gradient_accumulation_steps": 1,
        "lora_training": {
            "default_rank": 64,
            "max_batch_size": lora_max,
            "max_batch_size_dpo": lora_max,
            "max_rank": 64,
            "min_batch_size": 8,
            "target_modules": ["q_proj"],
        },
        "full_training": full or {"max_batch_size": 0, "max_batch_size_dpo": 0, "min_batch_size": 0},
        "max_learning_rate": 1.0,
        "min_learning_rate": 1e-8,
        "max_num_checkpoints": 20,
        "max_num_epochs": 20,
        "max_num_evals": 100,
        "max_seq_length_sft": sft,
        "max_seq_length_dpo": dpo,
        "min_max_seq_length": 512,
        "merge_output_lora": True,
        "supports_full_training": full is not None,
        "supports_reasoning": False,
        "supports_tools": True,
        "supports_vision": False,
    }


class FakeTogether:
    """Answers /v2/supported-models (two pages) and /v1/fine-tunes/models/limits like Together does."""

    def __init__(self, *, status: int = 200, extra_models: int = 0) -> None:
        self.status = status
        self.calls: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.page1 = [
            _model("togethercomputer/llama-2-7b-chat", context="4096"),
            _model("meta-llama/Llama-3.2-1B-Instruct", context="131072"),
        ]
        self.page2 = [
            _model("newco/NewLlama-3B-Instruct", context="32768", architecture="LlamaForCausalLM"),
            _model("Qwen/Qwen3-30B-A3B", context=None),
            *[_model(f"bulk/model-{i}-1B", context="2048") for i in range(extra_models)],
        ]
        self.limits = {
            "togethercomputer/llama-2-7b-chat": _limits(
                "togethercomputer/llama-2-7b-chat", 4096, 2048, lora_max=32
            ),
            "meta-llama/Llama-3.2-1B-Instruct": _limits("meta-llama/Llama-3.2-1B-Instruct", 131072, 131072),
            "Qwen/Qwen3-30B-A3B": _limits(
                "Qwen/Qwen3-30B-A3B",
                8192,
                32768,
                full={"max_batch_size": 16, "max_batch_size_dpo": 8, "min_batch_size": 16},
            ),
        }

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls.append(request.url.path)
        assert request.headers["authorization"] == f"Bearer {KEY}"
        if self.status != 200:
            return httpx2.Response(self.status, json={"error": {"message": f"nope {KEY}", "type": "x"}})
        if request.url.path == "/v2/supported-models":
            assert request.url.params["product"] == "PRODUCT_FINE_TUNING"
            if request.url.params.get("after") == "page2":
                return httpx2.Response(200, json={"data": self.page2, "next_cursor": None})
            return httpx2.Response(200, json={"data": self.page1, "next_cursor": "page2"})
        if request.url.path == "/v1/fine-tunes/models/limits":
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            await anyio.sleep(0.001)
            self.in_flight -= 1
            name = request.url.params["model_name"]
            if name in self.limits:
                return httpx2.Response(200, json=self.limits[name])
            if name.startswith("bulk/"):
                return httpx2.Response(200, json=_limits(name, 2048, 2048))
            return httpx2.Response(404, json={"message": "Model not found or not supported"})
        return httpx2.Response(404, json={"message": "no route"})


def _settings(tmp_path: Path, *, key: bool = True, ttl: float = 3600.0) -> Settings:
    return Settings(
        together_api_key=SecretStr(KEY) if key else None,
        together_base_url=BASE_URL,
        cache_dir=tmp_path / "cache",
        catalog_ttl=ttl,
    )


def _client(fake: FakeTogether) -> TogetherClient:
    async def no_sleep(_: float) -> None:
        return None

    return TogetherClient(
        api_key=SecretStr(KEY), base_url=BASE_URL, transport=httpx2.MockTransport(fake), sleep=no_sleep
    )


async def test_no_key_gives_packaged_without_calls(tmp_path: Path) -> None:
    fake = FakeTogether()
    async with _client(fake) as client:
        catalog = await load_catalog(_settings(tmp_path, key=False), client)
    assert catalog.origin == "packaged" and fake.calls == []
    assert not (tmp_path / "cache" / CACHE_FILE).exists()


async def test_live_refresh_merges_api_and_packaged(tmp_path: Path) -> None:
    fake = FakeTogether()
    async with _client(fake) as client:
        catalog = await load_catalog(_settings(tmp_path), client)
    assert catalog.origin == "live" and "supported-models" in catalog.source
    assert [b.name for b in catalog.bases] == [
        "togethercomputer/llama-2-7b-chat",
        "meta-llama/Llama-3.2-1B-Instruct",
        "newco/NewLlama-3B-Instruct",
        "Qwen/Qwen3-30B-A3B",
    ]
    llama2 = catalog.get("togethercomputer/llama-2-7b-chat")
    assert llama2 is not None
    # Packaged fills family/size; the API's limits win for context and batch.
    assert llama2.family == "llama" and llama2.param_count == 6_738_415_616
    assert llama2.dpo_context == 2048 and llama2.lora is not None and llama2.lora.max_batch_size == 32
    assert llama2.full_training is False and llama2.full is None and llama2.supports_tools is True
    new = catalog.get("newco/NewLlama-3B-Instruct")
    assert new is not None and new.family == "llama" and new.param_count == 3_000_000_000
    assert new.sft_context == 32768 and not new.param_count_exact  # limits 404: listed data kept
    qwen = catalog.get("Qwen/Qwen3-30B-A3B")
    assert (
        qwen is not None
        and qwen.full_training is True
        and qwen.full is not None
        and qwen.full.max_batch_size == 16
    )
    assert qwen.moe and qwen.family == "qwen3_moe"
    # The docs' example still holds on the live table.
    smol = CustomModelFacts(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        model_type="llama",
        param_count=134_515_008,
        max_context=8192,
    )
    rec = recommend(smol, catalog)
    assert rec.catalog_origin == "live" and rec.base_model == "togethercomputer/llama-2-7b-chat"
    cached = json.loads((tmp_path / "cache" / CACHE_FILE).read_text())
    assert cached["base_url"] == BASE_URL and cached["catalog"]["origin"] == "live"
    assert KEY not in (tmp_path / "cache" / CACHE_FILE).read_text()


async def test_cache_reused_within_ttl_then_refreshed(tmp_path: Path) -> None:
    fake = FakeTogether()
    settings = _settings(tmp_path, ttl=100.0)
    async with _client(fake) as client:
        first = await load_catalog(settings, client, now=lambda: 1_000.0)
        calls = len(fake.calls)
        second = await load_catalog(settings, client, now=lambda: 1_050.0)
        assert len(fake.calls) == calls and second == first
        await load_catalog(settings, client, now=lambda: 1_200.0)
        assert len(fake.calls) == 2 * calls


async def test_failure_falls_back_to_stale_cache_then_packaged(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ttl=10.0)
    async with _client(FakeTogether()) as client:
        await load_catalog(settings, client, now=lambda: 1_000.0)
    broken = FakeTogether(status=503)
    async with _client(broken) as client:
        stale = await load_catalog(settings, client, now=lambda: 5_000.0)
    assert stale.origin == "live" and len(stale.bases) == 4
    assert stale.warnings and "Could not refresh" in stale.warnings[0] and KEY not in stale.warnings[0]
    assert len(broken.calls) == 3  # one GET, retried twice
    # Warnings reach the recommendation the tool shows.
    smol = CustomModelFacts(model="s", model_type="llama", param_count=134_515_008, max_context=8192)
    assert "Could not refresh" in recommend(smol, stale).warnings[0]

    async with _client(FakeTogether(status=401)) as client:
        packaged = await load_catalog(_settings(tmp_path / "other"), client)
    assert packaged.origin == "packaged" and "TOGETHER_API_KEY" in packaged.warnings[0]
    assert KEY not in packaged.warnings[0]
    assert load_packaged_catalog().warnings == []  # the shipped table is not mutated


async def test_cache_from_another_server_is_ignored(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    async with _client(FakeTogether()) as client:
        await load_catalog(settings, client)
    other = FakeTogether()
    async with TogetherClient(
        api_key=SecretStr(KEY), base_url="http://127.0.0.1:8377", transport=httpx2.MockTransport(other)
    ) as client:
        await load_catalog(settings, client)
    assert other.calls  # refetched instead of reusing the other server's list


async def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / CACHE_FILE).write_text("{not json")
    fake = FakeTogether()
    async with _client(fake) as client:
        catalog = await load_catalog(settings, client)
    assert catalog.origin == "live" and fake.calls


async def test_limits_fetched_with_bounded_concurrency(tmp_path: Path) -> None:
    fake = FakeTogether(extra_models=30)
    async with _client(fake) as client:
        catalog = await load_catalog(_settings(tmp_path), client)
    assert len(catalog.bases) == 34
    assert 1 < fake.max_in_flight <= LIMITS_CONCURRENCY
    bulk = catalog.get("bulk/model-7-1B")
    assert bulk is not None and bulk.param_count == 1_000_000_000 and bulk.family == "unknown"
