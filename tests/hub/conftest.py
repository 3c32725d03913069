"""Fake Hub fixtures: huggingface_hub's shared client is routed to an in-process FakeHub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from byom.config import Settings
from byom.hub import HubInspector
from support.fakehub import TOKEN, FakeHub, make_inspector
from support.hubrepos import standard_repos


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(standard_repos())
    with fake.installed():
        yield fake


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")


@pytest.fixture
def inspector(settings: Settings, hub: FakeHub) -> HubInspector:
    return make_inspector(settings)


@pytest.fixture
def authed_inspector(settings: Settings, hub: FakeHub) -> HubInspector:
    return make_inspector(settings, token=TOKEN)
