"""LoRA attach mode: adapters attached to a running deployment of their base, served by the adapter's name."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from byom.engine.deploy.registry import register_model
from byom.engine.state import EngineState
from support.engine import (
    PID,
    P,
    assert_together_error,
    deploy,
    engine_client,
    make_adapter,
    register_tiny,
    wait_state,
)
from support.poll import until_sync

DYNAMIC = f"projects/{PID}/configs/cr_local_cpu_dynamic"
READY = "DEPLOYMENT_STATE_READY"
PROMPT = {"prompt": "Bees make", "max_tokens": 8, "temperature": 0}


def _register_adapter(state: EngineState, path: Path, base_id: str | None, name: str) -> str:
    return register_model(
        state.db,
        project_id=PID,
        project_slug="local",
        name=name,
        kind="adapter",
        path=path,
        base_model_id=base_id,
    ).id


def _adapters(ep: str, dep: str) -> str:
    return f"{P}/endpoints/{ep}/deployments/{dep}/adapters"


def _wait_adapter(client: TestClient, ep: str, dep: str, dad: str, *want: str) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{_adapters(ep, dep)}/{dad}").json()
        return body if body["perCluster"][0]["state"] in want else None

    return until_sync(reached, f"adapter {dad} to reach {want}")


def _text(client: TestClient, model: str) -> str:
    response = client.post("/v1/completions", json={"model": model, **PROMPT})
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["text"])


@pytest.fixture(scope="module")
def attached(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    """A READY dynamic-config deployment of the tiny base with an active (non-zero) adapter attached."""
    root = tmp_path_factory.mktemp("adapters")
    with engine_client(root / "engine") as (state, client):
        base = register_tiny(state, tiny_model, name="tiny-base")
        adapter_id = _register_adapter(
            state, make_adapter(tiny_model, root / "lora", active=True), base.id, "tiny-base-adapter"
        )
        ep = client.post(f"{P}/endpoints", json={"name": "lora"}).json()
        dep = deploy(client, ep["id"], base.id, config=DYNAMIC)
        wait_state(client, ep["id"], dep["id"], READY)
        created = client.post(_adapters(ep["id"], dep["id"]), json={"adapterModelId": adapter_id})
        assert created.status_code == 200, created.text
        dad = created.json()
        yield {
            "state": state,
            "client": client,
            "root": root,
            "base": base,
            "adapter_id": adapter_id,
            "ep": ep["id"],
            "dep": dep["id"],
            "dad": dad,
        }


def test_configs_offer_a_dynamic_adapter_mode_for_a_base(attached: dict[str, Any]) -> None:
    client, base, adapter_id = attached["client"], attached["base"], attached["adapter_id"]
    listed = client.get(f"{P}/configs", params={"referenceModelId": base.id}).json()["data"]
    modes = {c["id"]: {s["key"]: s["value"] for s in c["selectors"]}["adapter_mode"] for c in listed}
    assert modes == {"cr_local_cpu": "disabled", "cr_local_cpu_dynamic": "dynamic"}
    assert listed[0]["id"] == "cr_local_cpu"  # a plain deploy still picks the plain config first
    merge = client.get(f"{P}/configs", params={"referenceModelId": adapter_id}).json()["data"]
    assert [c["id"] for c in merge] == ["cr_local_cpu"]
    one = client.get(f"{P}/configs/cr_local_cpu_dynamic").json()
    assert {"key": "adapter_mode", "value": "dynamic"} in one["selectors"]


def test_attached_adapter_serves_by_its_name_and_the_base_stays_the_base(attached: dict[str, Any]) -> None:
    client, ep, dep, dad = attached["client"], attached["ep"], attached["dep"], attached["dad"]
    assert dad["id"].startswith("dad_") and dad["adapterModelId"] == attached["adapter_id"] and dad["etag"]
    assert dad["desiredRevision"].startswith(f"projects/{PID}/models/{attached['adapter_id']}/revisions/")
    ready = _wait_adapter(client, ep, dep, dad["id"], "ADAPTER_LOAD_STATE_READY", "ADAPTER_LOAD_STATE_FAILED")
    cluster = ready["perCluster"][0]
    assert cluster["state"] == "ADAPTER_LOAD_STATE_READY", cluster
    assert cluster["readyPodCount"] == 1 and cluster["realizedRevisionId"] == dad["desiredRevisionId"]
    assert cluster["loadedAt"]
    listed = client.get(_adapters(ep, dep)).json()
    assert [a["id"] for a in listed["data"]] == [dad["id"]] and listed["next_cursor"] is None

    base_text = _text(client, "local/lora")
    adapter_text = _text(client, "local/tiny-base-adapter")
    assert adapter_text != base_text  # the adapter's non-zero LoRA weights are active
    assert _text(client, "tiny-base-adapter") == adapter_text  # bare name too, deterministic
    assert _text(client, "local/lora") == base_text  # the base answers as before, adapter disabled
    chat = client.post(
        "/v1/chat/completions",
        json={
            "model": "local/tiny-base-adapter",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 4,
        },
    )
    assert chat.status_code == 200 and chat.json()["model"] == "local/tiny-base-adapter"
    streamed = client.post(
        "/v1/completions", json={"model": "local/tiny-base-adapter", **PROMPT, "stream": True}
    )
    assert streamed.status_code == 200 and "[DONE]" in streamed.text


def test_attach_refusals(attached: dict[str, Any], tiny_model: Path) -> None:
    state, client, root = attached["state"], attached["client"], attached["root"]
    ep, dep, base = attached["ep"], attached["dep"], attached["base"]
    url = _adapters(ep, dep)
    assert_together_error(client.post(url, json={"adapterModelId": "ml_nope"}), 404)
    assert_together_error(client.post(f"{P}/endpoints/{ep}/deployments/dep_nope/adapters", json={}), 404)
    not_adapter = client.post(url, json={"adapterModelId": base.id})
    assert (
        "not a LoRA adapter" in assert_together_error(not_adapter, 400, "adapterModelId")["error"]["message"]
    )
    twice = client.post(url, json={"adapterModelId": attached["adapter_id"]})
    assert_together_error(twice, 409, "adapterModelId")
    assert twice.headers["x-should-retry"] == "false"

    # Trained on other weights (a copy registered as another model): refused, naming the base it needs.
    other_dir = root / "other-base"
    shutil.copytree(tiny_model, other_dir)
    stranger = register_tiny(state, other_dir, name="tiny-stranger")
    foreign = _register_adapter(
        state, make_adapter(other_dir, root / "foreign"), stranger.id, "tiny-stranger-adapter"
    )
    wrong = assert_together_error(client.post(url, json={"adapterModelId": foreign}), 400, "adapterModelId")
    message = wrong["error"]["message"]
    assert "local/tiny-stranger" in message and stranger.id in message
    assert "never attach to a different base" in message
    # No registry base, but its adapter_config.json records exactly the weights this deployment serves: accepted.
    by_path = _register_adapter(state, make_adapter(tiny_model, root / "by-path"), None, "by-path-adapter")
    assert client.post(url, json={"adapterModelId": by_path}).status_code == 200

    # A deployment whose config has adapter_mode disabled refuses attachments.
    plain_ep = client.post(f"{P}/endpoints", json={"name": "plain"}).json()
    plain = deploy(client, plain_ep["id"], base.id)
    disabled = client.post(
        _adapters(plain_ep["id"], plain["id"]), json={"adapterModelId": attached["adapter_id"]}
    )
    assert "adapter_mode is disabled" in assert_together_error(disabled, 400)["error"]["message"]


def test_capacity_409_unless_force_evicts_the_oldest(
    tmp_path: Path, tiny_model: Path, monkeypatch: Any
) -> None:
    from byom.engine.deploy import adapters

    monkeypatch.setattr(adapters, "MAX_ADAPTERS", 1)
    with engine_client(tmp_path / "engine") as (state, client):
        base = register_tiny(state, tiny_model, name="tiny-base")
        first = _register_adapter(state, make_adapter(tiny_model, tmp_path / "a1"), base.id, "a1-adapter")
        second = _register_adapter(state, make_adapter(tiny_model, tmp_path / "a2"), base.id, "a2-adapter")
        ep = client.post(f"{P}/endpoints", json={"name": "cap"}).json()
        dep = deploy(
            client, ep["id"], base.id, config=DYNAMIC, autoscaling={"minReplicas": 0, "maxReplicas": 0}
        )
        url = _adapters(ep["id"], dep["id"])
        one = client.post(url, json={"adapterModelId": first}).json()
        # A stopped deployment keeps its attachment PENDING until it runs.
        assert one["perCluster"][0]["state"] == "ADAPTER_LOAD_STATE_PENDING"
        full = client.post(url, json={"adapterModelId": second})
        assert assert_together_error(full, 409, "force")["error"]["code"] == "resource_exhausted"
        forced = client.post(url, json={"adapterModelId": second, "force": True})
        assert forced.status_code == 200, forced.text
        assert [a["id"] for a in client.get(url).json()["data"]] == [forced.json()["id"]]


def test_delete_needs_the_etag_and_unloads(attached: dict[str, Any], tiny_model: Path) -> None:
    state, client, root = attached["state"], attached["client"], attached["root"]
    ep, dep, base = attached["ep"], attached["dep"], attached["base"]
    extra = _register_adapter(
        state, make_adapter(tiny_model, root / "extra", active=True), base.id, "extra-adapter"
    )
    url = _adapters(ep, dep)
    row = client.post(url, json={"adapterModelId": extra}).json()
    row = _wait_adapter(client, ep, dep, row["id"], "ADAPTER_LOAD_STATE_READY")
    assert _text(client, "local/extra-adapter")
    assert_together_error(client.delete(f"{url}/{row['id']}"), 400, "etag")
    assert_together_error(client.delete(f"{url}/{row['id']}", params={"etag": "et_stale"}), 409, "etag")
    assert client.delete(f"{url}/{row['id']}", params={"etag": row["etag"]}).json() == {}
    assert client.get(f"{url}/{row['id']}").status_code == 404
    gone = client.post("/v1/completions", json={"model": "local/extra-adapter", **PROMPT})
    assert_together_error(gone, 404, "model")
    loaded = attached["state"].deploy.loaded(dep)
    assert loaded is not None and all(not name.startswith(row["id"]) for name in loaded.adapters)


def test_update_repins_the_revision(attached: dict[str, Any], tiny_model: Path) -> None:
    state, client, root = attached["state"], attached["client"], attached["root"]
    ep, dep, base = attached["ep"], attached["dep"], attached["base"]
    url = _adapters(ep, dep)
    model_id = _register_adapter(
        state, make_adapter(tiny_model, root / "v1", active=True), base.id, "pin-adapter"
    )
    row = client.post(url, json={"adapterModelId": model_id}).json()
    row = _wait_adapter(client, ep, dep, row["id"], "ADAPTER_LOAD_STATE_READY")
    assert _text(client, "local/pin-adapter") != _text(client, "local/lora")
    # A second revision of the same adapter model: PEFT's zero-initialised LoRA, which changes nothing.
    second = register_model(
        state.db,
        project_id=PID,
        project_slug="local",
        name="pin-adapter",
        kind="adapter",
        path=make_adapter(tiny_model, root / "v2"),
        base_model_id=base.id,
    ).revision_id
    body = {"adapterRevisionId": second, "etag": row["etag"]}
    assert_together_error(client.patch(f"{url}/{row['id']}", json={"adapterRevisionId": second}), 400, "etag")
    assert_together_error(client.patch(f"{url}/{row['id']}", json={**body, "etag": "et_old"}), 409, "etag")
    assert_together_error(
        client.patch(f"{url}/{row['id']}", json={**body, "adapterRevisionId": "rv_no"}), 404
    )
    patched = client.patch(f"{url}/{row['id']}", json=body)
    assert patched.status_code == 200, patched.text
    assert patched.json()["desiredRevisionId"] == second and patched.json()["etag"] != row["etag"]
    ready = _wait_adapter(client, ep, dep, row["id"], "ADAPTER_LOAD_STATE_READY")
    assert ready["perCluster"][0]["realizedRevisionId"] == second
    assert _text(client, "local/pin-adapter") == _text(client, "local/lora")
    assert client.delete(f"{url}/{row['id']}", params={"etag": ready["etag"]}).status_code == 200


def test_stop_and_start_reload_the_adapter_and_delete_takes_it_away(attached: dict[str, Any]) -> None:
    client, ep, dep, dad = attached["client"], attached["ep"], attached["dep"], attached["dad"]
    before = _text(client, "local/tiny-base-adapter")
    current = client.get(f"{P}/endpoints/{ep}/deployments/{dep}").json()
    stop = {"etag": current["etag"], "autoscaling": {"minReplicas": 0, "maxReplicas": 0}}
    stopped = client.patch(f"{P}/endpoints/{ep}/deployments/{dep}", json=stop)
    assert stopped.status_code == 200, stopped.text
    waiting = client.get(f"{_adapters(ep, dep)}/{dad['id']}").json()["perCluster"][0]
    assert waiting["state"] == "ADAPTER_LOAD_STATE_PENDING" and "realizedRevisionId" not in waiting
    not_ready = client.post("/v1/completions", json={"model": "local/tiny-base-adapter", **PROMPT})
    assert assert_together_error(not_ready, 400, "model")["error"]["code"] == "adapter_not_ready"
    start = {"etag": stopped.json()["etag"], "autoscaling": {"minReplicas": 1, "maxReplicas": 1}}
    assert client.patch(f"{P}/endpoints/{ep}/deployments/{dep}", json=start).status_code == 200
    wait_state(client, ep, dep, READY)
    _wait_adapter(client, ep, dep, dad["id"], "ADAPTER_LOAD_STATE_READY")
    assert _text(client, "local/tiny-base-adapter") == before

    # Deleting the deployment removes its attachments.
    routed = client.get(f"{P}/endpoints/{ep}").json()
    client.patch(
        f"{P}/endpoints/{ep}?updateMask=trafficSplit", json={"etag": routed["etag"], "trafficSplit": []}
    )
    etag = client.get(f"{P}/endpoints/{ep}/deployments/{dep}").json()["etag"]
    assert client.delete(f"{P}/endpoints/{ep}/deployments/{dep}", params={"etag": etag}).status_code == 200
    assert (
        attached["state"].db.query("SELECT id FROM deployment_adapters WHERE deployment_id = ?", (dep,)) == []
    )
