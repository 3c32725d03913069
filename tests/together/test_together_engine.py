"""TogetherClient and the live catalog against the real local engine app (ASGITransport, no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr

from byom.catalog import load_catalog, load_packaged_catalog
from byom.config import Settings
from byom.engine.app import create_app
from byom.engine.state import EngineState
from byom.errors import TogetherAPIError
from byom.together import TogetherClient

pytestmark = pytest.mark.anyio

ENGINE_KEY = "engine-test-key-42"
ENGINE_URL = "http://127.0.0.1:8377"


@pytest.fixture
def transport(tmp_path: Path) -> Iterator[httpx2.ASGITransport]:
    settings = Settings(data_dir=tmp_path / "engine", cache_dir=tmp_path / "cache")
    state = EngineState.open(tmp_path / "engine", api_key=ENGINE_KEY, base_url=ENGINE_URL, settings=settings)
    try:
        yield httpx2.ASGITransport(app=create_app(state))
    finally:
        state.close()


def _client(transport: httpx2.ASGITransport, key: str = ENGINE_KEY) -> TogetherClient:
    return TogetherClient(api_key=key, base_url=ENGINE_URL, transport=transport, max_retries=0)


async def test_supported_models_pages_through_the_engine(transport: httpx2.ASGITransport) -> None:
    async with _client(transport) as client:
        models = await client.supported_models(limit=10)
    packaged = load_packaged_catalog()
    assert [m.model_name for m in models] == [b.name for b in packaged.bases]
    assert all("PRODUCT_FINE_TUNING" in m.products for m in models)


async def test_model_limits_from_the_engine(transport: httpx2.ASGITransport) -> None:
    async with _client(transport) as client:
        limits = await client.model_limits("togethercomputer/llama-2-7b-chat")
        assert limits.max_seq_length_sft == 4096 and limits.lora_training is not None
        with pytest.raises(TogetherAPIError) as info:
            await client.model_limits("nobody/nothing")
    assert info.value.status_code == 404 and "supported-models" in str(info.value)


async def test_wrong_engine_key_is_a_clear_401(transport: httpx2.ASGITransport) -> None:
    async with _client(transport, key="wrong-key") as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.supported_models()
    assert info.value.status_code == 401 and "BYOM_ENGINE_API_KEY" in str(info.value)
    assert "wrong-key" not in str(info.value)


async def test_live_catalog_from_the_engine_matches_packaged(
    transport: httpx2.ASGITransport, tmp_path: Path
) -> None:
    settings = Settings(
        together_api_key=SecretStr(ENGINE_KEY), together_base_url=ENGINE_URL, cache_dir=tmp_path / "cache"
    )
    async with _client(transport) as client:
        live = await load_catalog(settings, client)
    packaged = load_packaged_catalog()
    assert live.origin == "live" and not live.warnings
    assert [b.name for b in live.bases] == [b.name for b in packaged.bases]
    llama2 = live.get("togethercomputer/llama-2-7b-chat")
    assert llama2 is not None and llama2.family == "llama" and llama2.sft_context == 4096


async def test_engine_client_reads_the_key_file_the_engine_wrote(tmp_path: Path) -> None:
    from byom.config import engine_data_dir
    from byom.engine.service import ensure_engine_key

    settings = Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", engine_url=ENGINE_URL)
    data_dir = engine_data_dir(settings)
    key = ensure_engine_key(data_dir)  # what `byom engine` does on first start
    state = EngineState.open(data_dir, api_key=key, base_url=ENGINE_URL, settings=settings)
    try:
        client = TogetherClient.for_engine(settings, transport=httpx2.ASGITransport(app=create_app(state)))
        async with client:
            assert await client.model_limits("togethercomputer/llama-2-7b-chat")
        assert key not in repr(client)
    finally:
        state.close()
