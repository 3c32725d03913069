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


async def test_supported_models_page_with_the_shared_cursor(client: httpx2.AsyncClient) -> None:
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 7}
    while True:
        body = (await client.get("/v2/supported-models", params=params)).json()
        assert set(body) == {"data", "next_cursor"}
        seen.extend(row["id"] for row in body["data"])
        if not body["next_cursor"]:
            break
        params = {"limit": 7, "after": body["next_cursor"]}
    everything = (await client.get("/v2/supported-models", params={"limit": 1000})).json()["data"]
    assert seen == [row["id"] for row in everything] and len(seen) > 7
    bad = await client.get("/v2/supported-models", params={"limit": "x" * 30})
    assert_together_error(bad, 400, param="limit")


async def test_the_local_template_holds_a_job_to_no_together_base(client: httpx2.AsyncClient) -> None:
    # #16: a local job got DeepSeek-R1-Distill-Llama-8B's limits (its batch sizes too); the engine's own template
    # leaves the sequence length to the model's context and the batch to this machine.
    from byom.catalog import LOCAL_TEMPLATE
    from byom.together import FinetuneModelLimits

    response = await client.get("/v1/fine-tunes/models/limits", params={"model_name": LOCAL_TEMPLATE})
    assert response.status_code == 200, response.text
    limits = FinetuneModelLimits.model_validate(response.json())
    assert limits.model_name == LOCAL_TEMPLATE and limits.lora_training is not None
    assert limits.lora_training.min_batch_size == 1 and limits.min_max_seq_length == 1
    assert (limits.max_seq_length_sft or 0) > 100_000  # the model's context decides
