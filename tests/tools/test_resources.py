"""The static resources read the running server's state: the catalog comes through the backend's own client."""

from __future__ import annotations

import json

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import BASE_URL, KEY
from support.faults import FaultTransport

pytestmark = pytest.mark.anyio


async def test_the_catalog_resource_asks_together_through_the_backends_transport(
    queued: tuple[FaultTransport, EngineState], byom_settings: Settings
) -> None:
    """It used to build a client of its own: the server's transport (here the engine, in tests; the pool and
    retries in use) was bypassed, and the list came from the network or the packaged table."""
    faults = queued[0]
    settings = byom_settings.model_copy(
        update={
            "backend_choice": "together",
            "together_api_key": SecretStr(KEY),
            "together_base_url": BASE_URL,
        }
    )
    async with Client(build_server(settings, transport=faults)) as client:
        text = (await client.read_resource("byom://catalog/bases")).contents[0].text  # type: ignore[union-attr]
    assert faults.count("GET", "/v2/supported-models") >= 1
    assert not json.loads(text)["warnings"]  # live, not the packaged fallback


async def test_the_catalog_resource_without_a_reachable_backend_says_what_to_do(
    byom_settings: Settings,
) -> None:
    settings = byom_settings.model_copy(update={"backend_choice": "together", "together_api_key": None})
    async with Client(build_server(settings)) as client:
        with pytest.raises(MCPError, match="TOGETHER_API_KEY"):
            await client.read_resource("byom://catalog/bases")
