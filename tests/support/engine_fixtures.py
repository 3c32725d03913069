"""Fixtures of every test that needs the engine: the real engine in-process over ASGI (with its lifespan) or as a
process, the session's tiny model and its overfit data. Registered for the whole suite by tests/conftest.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx2
import pytest

from byom.engine.app import create_app
from byom.engine.state import EngineState
from byom.engine.tiny import make_tiny_llama, write_overfit_dataset
from support.engine import AUTH, BASE_URL, EngineProcess, make_state


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def overfit_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_overfit_dataset(tmp_path_factory.mktemp("data") / "train.jsonl", n=16).read_bytes()


@pytest.fixture
async def engine_transport(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx2.ASGITransport, EngineState]]:
    """The engine app with its lifespan (job runner) running, as a transport any client can use."""
    # Local models may come from anywhere under pytest's temp root (the session's tiny model).
    state = make_state(tmp_path, tmp_path_factory.getbasetemp())
    app = create_app(state)
    async with app.router.lifespan_context(app):
        yield httpx2.ASGITransport(app=app), state
    state.close()


@pytest.fixture
async def engine(
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
) -> AsyncIterator[tuple[httpx2.AsyncClient, EngineState]]:
    """The engine app with its lifespan (job runner) running; a client authenticated with its key."""
    transport, state = engine_transport
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH, timeout=30) as client:
        yield client, state


@pytest.fixture
async def client(engine: tuple[httpx2.AsyncClient, EngineState]) -> httpx2.AsyncClient:
    return engine[0]


@pytest.fixture
def engine_process(tmp_path: Path, tiny_model: Path) -> Iterator[EngineProcess]:
    proc = EngineProcess(tmp_path / "engine", tiny_model.parent).start()
    try:
        yield proc
    finally:
        proc.stop()
