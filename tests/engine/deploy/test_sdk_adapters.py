"""LoRA attach mode through real clients on the real engine process: the official SDK (`together` 3.1.1, strict
response validation) and byom's own ``TogetherClient``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import together

from byom.engine.deploy.registry import register_model
from byom.together import TogetherClient
from support.engine import API_KEY, PID, EngineProcess, make_adapter, open_state, register_tiny
from support.poll import until_sync

pytestmark = pytest.mark.slow


@pytest.fixture
def engine_url(tmp_path: Path, tiny_model: Path) -> Iterator[tuple[str, str, str]]:
    data_dir = tmp_path / "engine"
    state = open_state(data_dir)
    base = register_tiny(state, tiny_model, name="tiny-base")
    adapter = register_model(
        state.db,
        project_id=PID,
        project_slug="local",
        name="tiny-base-adapter",
        kind="adapter",
        path=make_adapter(tiny_model, tmp_path / "lora", active=True),
        base_model_id=base.id,
    )
    state.close()
    engine = EngineProcess(data_dir, tiny_model.parent, api_key=API_KEY).start()
    try:
        yield engine.url, base.id, adapter.id
    finally:
        engine.stop()


def test_sdk_and_client_attach_an_adapter(engine_url: tuple[str, str, str]) -> None:
    url, base_id, adapter_id = engine_url
    client = together.Together(
        api_key=API_KEY, base_url=url, project_id=PID, max_retries=0, _strict_response_validation=True
    )
    configs = list(client.models.configs.list(reference_model=f"projects/{PID}/models/{base_id}"))
    dynamic = next(
        c for c in configs if {(s.key, s.value) for s in c.selectors} >= {("adapter_mode", "dynamic")}
    )
    endpoint = client.endpoints.create(name="lora")
    deployment = client.endpoints.deployments.create(
        endpoint.id,
        name="base",
        model=f"projects/{PID}/models/{base_id}",
        config=f"projects/{dynamic.project_id}/configs/{dynamic.id}",
        autoscaling={"min_replicas": 1, "max_replicas": 1},
    )
    where = {"endpoint_id": endpoint.id, "deployment_id": deployment.id}
    attached = client.endpoints.adapters.create(adapter_model_id=adapter_id, **where)
    assert attached.id.startswith("dad_") and attached.adapter_model_id == adapter_id

    def loaded() -> Any:
        got = client.endpoints.adapters.retrieve(attached.id, **where)
        assert got.per_cluster[0].state != "ADAPTER_LOAD_STATE_FAILED", got.per_cluster[0].message
        return got if got.per_cluster[0].state == "ADAPTER_LOAD_STATE_READY" else None

    attached = until_sync(loaded, "the adapter to load", interval=0.1)
    assert attached.per_cluster[0].loaded_at is not None
    assert [a.id for a in client.endpoints.adapters.list(**where)] == [attached.id]

    base_text = client.completions.create(
        model=endpoint.name, prompt="Bees make", max_tokens=6, temperature=0
    )
    lora_text = client.completions.create(
        model="local/tiny-base-adapter", prompt="Bees make", max_tokens=6, temperature=0
    )
    assert lora_text.choices[0].text != base_text.choices[0].text

    async def through_byom_client() -> None:
        async with TogetherClient(api_key=API_KEY, base_url=url, max_retries=0) as byom:
            listed = await byom.list_adapters(PID, endpoint.id, deployment.id)
            assert [a.id for a in listed] == [attached.id] and listed[0].state == "ADAPTER_LOAD_STATE_READY"
            one = await byom.retrieve_adapter(PID, endpoint.id, deployment.id, attached.id)
            assert one.etag == attached.etag and one.per_cluster[0].realized_revision_id
            await byom.detach_adapter(PID, endpoint.id, deployment.id, attached.id, etag=one.etag or "")
            assert await byom.list_adapters(PID, endpoint.id, deployment.id) == []
            again = await byom.attach_adapter(PID, endpoint.id, deployment.id, adapter_id)
            assert again.id != attached.id and again.desired_revision_id == attached.desired_revision_id

    anyio.run(through_byom_client)
    with pytest.raises(together.BadRequestError):  # the base itself is no adapter
        client.endpoints.adapters.create(adapter_model_id=base_id, **where)
    client.close()
