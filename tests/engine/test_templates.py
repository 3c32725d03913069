"""The template limits route: what a client that forgot ``model`` is told."""

from __future__ import annotations

import httpx2
import pytest

from support.engine import assert_together_error

pytestmark = pytest.mark.anyio


async def test_a_missing_model_is_not_called_model_none(client: httpx2.AsyncClient) -> None:
    response = await client.get("/v1/fine-tunes/models/limits", params={"model_name": "None"})
    body = assert_together_error(response, 400, param="model")
    assert "'None'" not in body["error"]["message"]
    assert "model=" in body["error"]["message"]
