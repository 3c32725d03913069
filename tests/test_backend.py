"""Which backend the tools use, what the user may learn about it, and the v2 project."""

from __future__ import annotations

import httpx2
import pytest
from pydantic import SecretStr

from byom.backend import connect, describe_backend, ensure_engine
from byom.config import Settings, load_settings
from byom.engine.state import EngineState
from byom.errors import ConfigError
from support.engine import BASE_URL, KEY, free_port

pytestmark = pytest.mark.anyio

CANARY = "tk-canary-7f3a"


def test_the_key_chooses_together_and_backend_forces_either() -> None:
    assert load_settings({}).backend == "local"
    assert load_settings({"TOGETHER_API_KEY": CANARY}).backend == "together"
    assert load_settings({"TOGETHER_API_KEY": CANARY, "BYOM_BACKEND": "local"}).backend == "local"
    assert load_settings({"BYOM_BACKEND": "together"}).backend == "together"
    with pytest.raises(ConfigError, match="BYOM_BACKEND"):
        load_settings({"BYOM_BACKEND": "cloud"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BYOM_MAX_USD", "-1"),
        ("BYOM_MAX_USD_PER_DAY", "lots"),
        ("BYOM_READ_ONLY", "maybe"),
        ("BYOM_ENGINE_MAX_QUEUED", "0"),
        ("BYOM_ENGINE_MAX_QUEUED", "ten"),
    ],
)
def test_malformed_limits_are_config_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


def test_the_engine_queue_cap_defaults_to_100_and_is_read_from_the_environment() -> None:
    assert load_settings({}).engine_max_queued == 100
    assert load_settings({"BYOM_ENGINE_MAX_QUEUED": " 7 "}).engine_max_queued == 7


def test_describe_says_which_credentials_are_set_never_their_values() -> None:
    settings = load_settings({"TOGETHER_API_KEY": CANARY, "HF_TOKEN": "hf_canary", "BYOM_MAX_USD": "$25"})
    info = describe_backend(settings)
    assert info.kind == "together" and info.costs_money
    assert info.credentials["TOGETHER_API_KEY"] and info.credentials["HF_TOKEN"]
    assert not info.credentials["WANDB_API_KEY"]
    assert info.spending_limits["BYOM_MAX_USD"] == 25.0
    dumped = info.model_dump_json()
    assert CANARY not in dumped and "hf_canary" not in dumped


async def test_together_without_a_key_is_a_config_error_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="TOGETHER_API_KEY"):
        await connect(Settings(backend_choice="together"))


def test_no_engine_and_no_autostart_names_the_command() -> None:
    settings = Settings(engine_url=f"http://127.0.0.1:{free_port()}", engine_autostart=False)
    with pytest.raises(ConfigError, match="byom engine"):
        ensure_engine(settings)


async def test_the_project_comes_from_whoami_or_the_environment(
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
) -> None:
    transport, _ = engine_transport
    base = Settings(engine_url=BASE_URL, engine_api_key=SecretStr(KEY))
    backend = await connect(base, transport=transport)
    try:
        project = await backend.project()
        assert project.id and project.slug
        assert await backend.project() is project  # asked once
    finally:
        await backend.aclose()
    paid = Settings(
        together_api_key=SecretStr(KEY),
        together_base_url=BASE_URL,
        together_project_id="proj_env",
        backend_choice="together",
    )
    backend = await connect(paid, transport=transport)
    try:
        assert (await backend.project()).id == "proj_env"
    finally:
        await backend.aclose()
