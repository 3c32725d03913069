"""The endpoints workflows as plain functions, against the real engine in-process over ASGI (no MCP server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest
from pydantic import SecretStr

from byom.backend import Backend, connect
from byom.config import Settings
from byom.engine.state import EngineState
from byom.ledger import Ledger
from support.engine import BASE_URL, KEY, register_tiny


@pytest.fixture
async def backend(
    engine_transport: tuple[httpx2.ASGITransport, EngineState], tmp_path: Path
) -> AsyncIterator[Backend]:
    settings = Settings(
        data_dir=tmp_path / "byom",
        cache_dir=tmp_path / "byom-cache",
        engine_url=BASE_URL,
        engine_api_key=SecretStr(KEY),
        backend_choice="local",
    )
    found = await connect(settings, transport=engine_transport[0])
    yield found
    await found.aclose()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "ledger.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def model_id(engine_transport: tuple[httpx2.ASGITransport, EngineState], tiny_model: Path) -> str:
    """The session's tiny model in the engine's registry, as a completed job leaves it."""
    return register_tiny(engine_transport[1], tiny_model).id
