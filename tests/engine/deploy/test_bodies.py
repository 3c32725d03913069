"""The declared v2 answer bodies (``deploy/bodies.py``): nothing undeclared goes out, unset keys stay absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from byom.engine.deploy.bodies import Autoscaling, EndpointEventBody
from byom.engine.http import wire
from support.engine import PID, P, deploy, engine_client, register_tiny


@pytest.fixture
def served_engine(tmp_path: Path):
    with engine_client(tmp_path / "engine") as pair:
        yield pair


def test_a_body_refuses_an_undeclared_key_and_leaves_unset_keys_out() -> None:
    with pytest.raises(ValidationError):
        Autoscaling.model_validate({"minReplicas": 1, "surprise": 2})
    event = EndpointEventBody(
        id="ev_1",
        created_at="1970-01-01T00:00:00Z",
        endpoint_id="ep_1",
        level="LEVEL_INFO",
        source="byom-engine",
        source_kind="SOURCE_KIND_ENDPOINT",
        type="endpoint.created",
        message="m",
    )
    body = wire(event)
    assert (
        "deploymentId" not in body and "reason" not in body and body["sourceKind"] == "SOURCE_KIND_ENDPOINT"
    )


def _deployment_request(client, tiny_state, tiny_model: Path) -> tuple[str, dict]:
    model = register_tiny(tiny_state, tiny_model)
    ep = client.post(f"{P}/endpoints", json={"name": "b"}).json()
    base = {
        "name": "d",
        "model": f"projects/{PID}/models/{model.id}",
        "config": f"projects/{PID}/configs/cr_local_cpu",
    }
    return f"{P}/endpoints/{ep['id']}/deployments", base


def test_autoscaling_is_answered_as_sent_and_optional_keys_only_when_set(
    served_engine, tiny_model: Path
) -> None:
    state, client = served_engine
    url, base = _deployment_request(client, state, tiny_model)
    scaling = {
        "minReplicas": 1,
        "maxReplicas": 1,
        "scaleDownWindow": "300s",
        "scaleUp": {"policies": [{"periodSeconds": 60, "type": "Pods", "value": 1}], "selectPolicy": "Max"},
        "scalingMetrics": [{"name": "concurrency", "type": "Average", "target": 4.0}],
    }
    dry = client.post(url, json={**base, "autoscaling": scaling}, params={"validateOnly": "true"})
    assert dry.status_code == 200, dry.text
    assert dry.json()["autoscaling"] == scaling
    assert "maxConcurrentRequestsPerReplica" not in dry.json() and "placement" not in dry.json()
    placed = client.post(
        url,
        json={**base, "maxConcurrentRequestsPerReplica": 8, "placement": {"regions": ["local"]}},
        params={"validateOnly": "true"},
    ).json()
    assert placed["maxConcurrentRequestsPerReplica"] == "8" and placed["placement"] == {"regions": ["local"]}


def test_an_undeclared_autoscaling_key_is_a_400_that_names_it(served_engine, tiny_model: Path) -> None:
    # It used to be stored and echoed; the declared answer could not carry it, so it is refused at the door.
    state, client = served_engine
    url, base = _deployment_request(client, state, tiny_model)
    response = client.post(url, json={**base, "autoscaling": {"minReplicas": 1, "surprise": 2}})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "autoscaling.surprise"
    assert client.get(url).json()["data"] == []


def test_a_deployment_stored_by_an_older_engine_with_a_stray_autoscaling_key_still_renders(
    served_engine, tiny_model
) -> None:
    state, client = served_engine
    model = register_tiny(state, tiny_model, name="stray")
    ep = client.post(f"{P}/endpoints", json={"name": "stray"}).json()
    dep = deploy(client, ep["id"], model.id, autoscaling={"minReplicas": 0, "maxReplicas": 0})
    # What the previous engine version stored for a client that sent an extra key.
    state.db.execute(
        "UPDATE deployments SET autoscaling = ? WHERE id = ?",
        ('{"minReplicas": 0, "maxReplicas": 0, "targetCpu": 50}', dep["id"]),
    )
    one = client.get(f"{P}/endpoints/{ep['id']}/deployments/{dep['id']}")
    assert one.status_code == 200, one.text
    assert one.json()["autoscaling"] == {"minReplicas": 0, "maxReplicas": 0}
    assert client.get(f"{P}/endpoints/{ep['id']}").status_code == 200
