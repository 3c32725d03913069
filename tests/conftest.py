"""Fixtures shared by every test: never touch the real user's home, caches or tokens."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

# The engine fixtures (engine, client, tiny_model, ...) for tests/engine and tests/together alike.
pytest_plugins = ["support.engine_fixtures"]

_SECRET_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "TOGETHER_API_KEY",
    "WANDB_API_KEY",
    "BYOM_ENGINE_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("HF_HOME", str(home / ".cache" / "huggingface"))
    monkeypatch.setenv("BYOM_DATA_DIR", str(home / "byom-data"))
    monkeypatch.setenv("BYOM_CACHE_DIR", str(home / "byom-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    for name in _SECRET_ENV + ("TOGETHER_BASE_URL", "TOGETHER_PROJECT_ID", "BYOM_ENGINE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """The CLI's commands set the "byom" logger to INFO and add a root handler (``byom engine`` and ``byom mcp
    --http`` announce where they listen); a test that runs one in-process must not leave that to the tests after
    it (the engine's access log then reached another test's ``caplog``)."""
    root, byom = logging.getLogger(), logging.getLogger("byom")
    levels, handlers = (root.level, byom.level), list(root.handlers)
    yield
    root.setLevel(levels[0])
    byom.setLevel(levels[1])
    root.handlers[:] = handlers


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
