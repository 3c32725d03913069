"""Fake Hub fixtures: huggingface_hub's shared client is routed to an in-process FakeHub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import HfApi
from pydantic import SecretStr

from byom.config import Settings
from byom.hub import HubInspector
from fakehub import ENDPOINT, TOKEN, FakeHub
from hubrepos import standard_repos


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(standard_repos())
    with fake.installed():
        yield fake


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")


def make_inspector(settings: Settings, *, token: str | None = None, **kwargs: object) -> HubInspector:
    if token is not None:
        settings = settings.model_copy(update={"hf_token": SecretStr(token)})
    return HubInspector(settings, api=HfApi(endpoint=ENDPOINT, token=False), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def inspector(settings: Settings, hub: FakeHub) -> HubInspector:
    return make_inspector(settings)


@pytest.fixture
def authed_inspector(settings: Settings, hub: FakeHub) -> HubInspector:
    return make_inspector(settings, token=TOKEN)
