"""The official SDK (`together` 3.1.1) deploys and chats with a model on the real engine process.

The engine runs as ``python -m byom engine`` on a free loopback port (``EngineProcess``); every v2 answer is parsed
by the SDK's own response models with strict validation, and read through typed attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import together

from support.engine import API_KEY, PID, EngineProcess, open_state, register_tiny
from support.poll import until_sync

pytestmark = pytest.mark.slow


@pytest.fixture
def engine_url(tmp_path: Path, tiny_model: Path) -> Iterator[tuple[str, str, str]]:
    data_dir = tmp_path / "engine"
    # The fine-tuned output stands in for a job's registered model (the registry is the seam).
    state = open_state(data_dir)
    model = register_tiny(state, tiny_model, name="tiny-ft")
    state.close()
    engine = EngineProcess(data_dir, tiny_model.parent, api_key=API_KEY).start()
    try:
        yield engine.url, model.id, model.revision_id
    finally:
        engine.stop()


def test_sdk_deploys_and_chats(engine_url: tuple[str, str, str]) -> None:
    url, model_id, revision_id = engine_url
    client = together.Together(api_key=API_KEY, base_url=url, max_retries=0, _strict_response_validation=True)

    who = client.whoami()
    client.close()
    assert who.type == "project_api_key"
    pid, slug = who.project.id, who.project.slug
    assert pid == PID
    # v2 calls are project-scoped; the SDK never discovers the project itself (ref §3.2).
    client = together.Together(
        api_key=API_KEY, base_url=url, project_id=pid, max_retries=0, _strict_response_validation=True
    )
    project: dict[str, str] = {}

    model = client.models.retrieve(model_id, **project)
    assert model.name == f"{slug}/tiny-ft" and model.weights.type == "WEIGHTS_TYPE_DEFAULT"
    assert [m.id for m in client.models.list()] == [model_id]
    revisions = client.models.list_revisions(model_id)
    assert revisions.data is not None and revisions.data[0].revision_id == revision_id
    files = client.models.list_files(model_id, revision_id=revision_id)
    assert "config.json" in {f.path for f in files.data} and files.revision_id == revision_id
    reference = f"projects/{model.project_id}/models/{model.base_model_id or model.id}"
    configs = list(client.models.configs.list(reference_model=reference, **project))
    assert configs and configs[0].id == "cr_local_cpu"
    assert {(s.key, s.value) for s in configs[0].selectors} >= {("accelerator_type", "cpu")}
    assert client.models.configs.retrieve(configs[0].id).selectors == configs[0].selectors
    hardware = client.endpoints.hardware.list()
    assert client.endpoints.hardware.retrieve(hardware.data[0].id).name == "1xcpu"
    assert hardware.data[0].name == "1xcpu" and hardware.data[0].price_cents_per_hour == 0

    endpoint = client.endpoints.create(name="my-ft", **project)
    assert endpoint.name == f"{slug}/my-ft" and endpoint.traffic_split == []
    with pytest.raises(together.ConflictError):
        client.endpoints.create(name="my-ft", **project)

    dry = client.endpoints.deployments.create(
        endpoint.id,
        name="my-ft-1",
        model=f"projects/{pid}/models/{model_id}/revisions/{revision_id}",
        config=f"projects/{configs[0].project_id}/configs/{configs[0].id}",
        autoscaling={"min_replicas": 1, "max_replicas": 1},
        validate_only=True,
        **project,
    )
    assert dry.name == f"{slug}/my-ft/my-ft-1"
    deployment = client.endpoints.deployments.create(
        endpoint.id,
        name="my-ft-1",
        model=f"projects/{pid}/models/{model_id}/revisions/{revision_id}",
        config=f"projects/{configs[0].project_id}/configs/{configs[0].id}",
        autoscaling={"min_replicas": 1, "max_replicas": 1},
        inactive_timeout=60,
        **project,
    )
    assert deployment.model.endswith(f"/revisions/{revision_id}") and deployment.hardware == "1xcpu"

    current = client.endpoints.retrieve(endpoint.id, **project)
    routed = client.endpoints.update(
        endpoint.id,
        update_mask="trafficSplit",
        etag=current.etag,
        traffic_split=[{"deployment_id": deployment.id, "weight": 1}],
        **project,
    )
    assert [(e.deployment_id, e.weight) for e in routed.traffic_split] == [(deployment.id, 1.0)]

    def ready() -> Any:
        got = client.endpoints.deployments.retrieve(deployment.id, endpoint_id=endpoint.id, **project)
        assert got.status.state in ("DEPLOYMENT_STATE_READY", "DEPLOYMENT_STATE_PROVISIONING"), (
            got.status.message
        )
        return got if got.status.state == "DEPLOYMENT_STATE_READY" else None

    got = until_sync(ready, "the deployment to be ready", interval=0.2)
    assert got.status.ready_replicas == 1
    assert [d.id for d in client.endpoints.deployments.list(endpoint.id)] == [deployment.id]
    assert [e.name for e in client.endpoints.list()] == [endpoint.name]

    reply = client.chat.completions.create(
        model=endpoint.name,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=8,
        temperature=0,
    )
    assert reply.object == "chat.completion" and reply.choices[0].message.role == "assistant"
    assert reply.usage is not None and reply.usage.completion_tokens <= 8
    pieces = list(
        client.chat.completions.create(
            model=endpoint.name,
            messages=[{"role": "user", "content": "What is the capital of France?"}],
            max_tokens=8,
            temperature=0,
            stream=True,
        )
    )
    assert (
        "".join(p.choices[0].delta.content or "" for p in pieces if p.choices)
        == reply.choices[0].message.content
    )

    text = client.completions.create(model=endpoint.name, prompt="The sky is", max_tokens=4, temperature=0)
    assert text.choices[0].text is not None and text.usage is not None

    with pytest.raises(together.NotFoundError):
        client.chat.completions.create(model=f"{slug}/nope", messages=[{"role": "user", "content": "x"}])

    events = list(client.endpoints.list_events(endpoint.id, **project))
    assert events and events[0].endpoint_id == endpoint.id

    # Stop at 0/0 replicas (ref §3.11): the endpoint then says it is not running.
    stopped = client.endpoints.deployments.update(
        deployment.id,
        endpoint_id=endpoint.id,
        update_mask="autoscaling.minReplicas,autoscaling.maxReplicas",
        autoscaling={"min_replicas": 0, "max_replicas": 0},
    )
    assert stopped.status.state == "DEPLOYMENT_STATE_STOPPED"
    with pytest.raises(together.BadRequestError) as refused:
        client.chat.completions.create(model=endpoint.name, messages=[{"role": "user", "content": "x"}])
    assert refused.value.body["error"]["code"] == "dedicated_endpoint_not_running"

    # Teardown in Together's order: unroute, delete the deployment, delete the endpoint.
    current = client.endpoints.retrieve(endpoint.id, **project)
    client.endpoints.update(
        endpoint.id, update_mask="trafficSplit", etag=current.etag, traffic_split=[], **project
    )
    client.endpoints.deployments.delete(deployment.id, endpoint_id=endpoint.id, **project)
    client.endpoints.delete(endpoint.id, **project)
    with pytest.raises(together.NotFoundError):
        client.endpoints.retrieve(endpoint.id, **project)
    client.close()
