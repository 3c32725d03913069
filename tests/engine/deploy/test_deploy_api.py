"""The v2 deploy API against the real engine app and a tiny real model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from byom.engine.deploy.registry import register_model
from support.engine import (
    PID,
    P,
    deploy,
    engine_client,
    make_adapter,
    register_tiny,
    runtime,
    serve,
    wait_state,
)


@pytest.fixture
def served_engine(tmp_path: Path):
    with engine_client(tmp_path / "engine") as pair:
        yield pair


def test_instance_types_list_the_local_cpu(served_engine) -> None:
    _, client = served_engine
    body = client.get("/v2/public/inference-instance-types").json()
    assert body["object"] == "list" and body["next_cursor"] is None
    cpu = body["data"][0]
    assert cpu["id"] == "local-cpu" and cpu["name"] == "1xcpu" and cpu["priceCentsPerHour"] == 0
    assert cpu["gpuMemoryGib"] >= 1
    assert client.get("/v2/public/inference-instance-types/local-cpu").json() == cpu
    missing = client.get("/v2/public/inference-instance-types/nope")
    assert missing.status_code == 404 and "inference-instance-types" in missing.json()["error"]["message"]


def test_models_configs_and_unknown_project(served_engine, tiny_model: Path) -> None:
    state, client = served_engine
    model = register_tiny(state, tiny_model)
    listed = client.get(f"{P}/models").json()
    assert [m["id"] for m in listed["data"]] == [model.id] and listed["next_cursor"] is None
    got = client.get(f"{P}/models/{model.id}").json()
    assert got["name"] == "local/tiny-ft" and got["projectId"] == PID
    assert got["weights"]["type"] == "WEIGHTS_TYPE_DEFAULT"
    assert got["weights"]["architecture"] == "LlamaForCausalLM"
    assert int(got["weights"]["parameters"]["total"]) > 0 and got["weights"]["contextLength"] == "1024"
    revisions = client.get(f"{P}/models/{model.id}/revisions").json()["data"]
    assert [r["revisionId"] for r in revisions] == [model.revision_id]
    files = client.get(f"{P}/models/{model.id}/files").json()
    assert "config.json" in {f["path"] for f in files["data"]} and int(files["totalSizeBytes"]) > 0

    configs = client.get(
        f"{P}/configs", params={"referenceModel": f"projects/{PID}/models/{model.id}"}
    ).json()
    cpu = configs["data"][0]
    assert cpu["id"] == "cr_local_cpu" and cpu["referenceModelId"] == model.id
    assert {"key": "accelerator_type", "value": "cpu"} in cpu["selectors"]
    assert {"key": "adapter_mode", "value": "disabled"} in cpu["selectors"]
    assert (
        client.get(f"{P}/configs", params={"referenceModelId": model.id}).json()["data"][0]["id"]
        == "cr_local_cpu"
    )
    assert client.get(f"{P}/configs/cr_local_cpu").json()["id"] == "cr_local_cpu"

    unknown = client.get("/v2/projects/proj_other/models")
    assert unknown.status_code == 404 and "proj_local" in unknown.json()["error"]["message"]
    assert client.get(f"{P}/models/ml_missing").status_code == 404
    assert client.get(f"{P}/configs", params={"referenceModel": "nonsense"}).status_code == 400


def test_paging_walks_with_next_cursor(served_engine, tiny_model: Path) -> None:
    state, client = served_engine
    ids = [register_tiny(state, tiny_model, name=f"m{i}").id for i in range(3)]
    first = client.get(f"{P}/models", params={"limit": 2}).json()
    assert [m["id"] for m in first["data"]] == ids[:2] and first["next_cursor"] == ids[1]
    second = client.get(f"{P}/models", params={"limit": 2, "after": first["next_cursor"]}).json()
    assert [m["id"] for m in second["data"]] == ids[2:] and second["next_cursor"] is None


def test_endpoint_crud_with_etag(served_engine) -> None:
    _, client = served_engine
    created = client.post(f"{P}/endpoints", json={"name": "my-ft"}).json()
    assert created["id"].startswith("ep_") and created["name"] == "local/my-ft"
    assert created["trafficSplit"] == [] and created["deployments"] == []
    assert (
        created["endpointType"] == "ENDPOINT_TYPE_DEDICATED" and created["visibility"] == "VISIBILITY_PRIVATE"
    )

    dup = client.post(f"{P}/endpoints", json={"name": "local/my-ft"})
    assert dup.status_code == 409 and dup.headers["x-should-retry"] == "false"
    wrong_slug = client.post(f"{P}/endpoints", json={"name": "other/x"})
    assert wrong_slug.status_code == 400 and "slug" in wrong_slug.json()["error"]["message"]
    assert client.post(f"{P}/endpoints", json={"name": "bad name!"}).status_code == 400

    found = client.get(f"{P}/endpoints", params={"filter": 'name="my-ft"'}).json()["data"]
    assert [e["id"] for e in found] == [created["id"]]
    assert client.get(f"{P}/endpoints", params={"filter": 'name="nope"'}).json()["data"] == []

    renamed = client.patch(
        f"{P}/endpoints/{created['id']}",
        params={"updateMask": "name"},
        json={"name": "my-ft-2", "etag": created["etag"]},
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "local/my-ft-2"
    assert renamed.json()["etag"] != created["etag"]
    stale = client.patch(f"{P}/endpoints/{created['id']}", json={"name": "again", "etag": created["etag"]})
    assert stale.status_code == 409 and "etag" in stale.json()["error"]["message"]
    assert stale.headers["x-should-retry"] == "false"

    bad_split = client.patch(
        f"{P}/endpoints/{created['id']}",
        params={"updateMask": "trafficSplit"},
        json={"trafficSplit": [{"deploymentId": "dep_nope", "weight": 1}]},
    )
    assert bad_split.status_code == 400

    events = client.get(f"{P}/endpoints/{created['id']}/events").json()["data"]
    assert events[0]["type"] == "endpoint.created"
    assert client.delete(f"{P}/endpoints/{created['id']}").json() == {}
    assert client.get(f"{P}/endpoints/{created['id']}").status_code == 404


def test_deployment_lifecycle_split_stop_and_teardown(served_engine, tiny_model: Path) -> None:
    state, client = served_engine
    model = register_tiny(state, tiny_model)
    ep = client.post(f"{P}/endpoints", json={"name": "my-ft"}).json()

    dep = deploy(client, ep["id"], model.id, inactiveTimeout=60)
    assert dep["id"].startswith("dep_") and dep["name"] == "local/my-ft/d1"
    assert dep["model"] == f"projects/{PID}/models/{model.id}/revisions/{model.revision_id}"  # pinned
    assert dep["hardware"] == "1xcpu" and dep["trafficMode"] == "TRAFFIC_MODE_LIVE"
    assert dep["status"]["state"] in ("DEPLOYMENT_STATE_PROVISIONING", "DEPLOYMENT_STATE_READY")
    ready = wait_state(client, ep["id"], dep["id"], "DEPLOYMENT_STATE_READY")
    assert ready["status"]["readyReplicas"] == 1 and ready["inactiveTimeout"] == 60

    endpoint = client.get(f"{P}/endpoints/{ep['id']}").json()
    # The first deployment of an endpoint is routed at once.
    assert endpoint["trafficSplit"] == [{"deploymentId": dep["id"], "weight": 1.0}]
    assert endpoint["deployments"][0]["state"] == "DEPLOYMENT_STATE_READY"
    assert endpoint["deployments"][0]["estimatedEffectiveTrafficShare"] == 1.0

    chat = {
        "model": "local/my-ft",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 5,
        "temperature": 0,
    }
    answer = client.post("/v1/chat/completions", json=chat)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["role"] == "assistant"

    # A second deployment joins the split only when asked; then both get traffic.
    dep2 = deploy(client, ep["id"], model.id, name="d2")
    wait_state(client, ep["id"], dep2["id"], "DEPLOYMENT_STATE_READY")
    endpoint = client.get(f"{P}/endpoints/{ep['id']}").json()
    assert [e["deploymentId"] for e in endpoint["trafficSplit"]] == [dep["id"]]
    split = [{"deploymentId": dep["id"], "weight": 1}, {"deploymentId": dep2["id"], "weight": 3}]
    patched = client.patch(
        f"{P}/endpoints/{ep['id']}",
        params={"updateMask": "trafficSplit"},
        json={"etag": endpoint["etag"], "trafficSplit": split},
    ).json()
    shares = {d["id"]: d["estimatedEffectiveTrafficShare"] for d in patched["deployments"]}
    assert shares == {dep["id"]: 0.25, dep2["id"]: 0.75}
    rt = runtime(state)
    hits = {rt.resolve("local/my-ft").deployment["id"] for _ in range(60)}
    assert hits == {dep["id"], dep2["id"]}
    # A deployment name pins one deployment.
    assert rt.resolve("local/my-ft/d2").deployment["id"] == dep2["id"]

    # Stop d2 at 0/0; d1 still serves the endpoint; the pinned name says it is not running.
    stopped = client.patch(
        f"{P}/endpoints/{ep['id']}/deployments/{dep2['id']}",
        params={"updateMask": "autoscaling.minReplicas,autoscaling.maxReplicas"},
        json={"autoscaling": {"minReplicas": 0, "maxReplicas": 0}},
    ).json()
    assert stopped["status"]["state"] == "DEPLOYMENT_STATE_STOPPED"
    assert stopped["autoscaling"]["minReplicas"] == 0 and stopped["status"]["readyReplicas"] == 0
    pinned = client.post("/v1/chat/completions", json={**chat, "model": "local/my-ft/d2"})
    assert pinned.status_code == 400 and pinned.json()["error"]["code"] == "dedicated_endpoint_not_running"
    assert client.post("/v1/chat/completions", json=chat).status_code == 200

    # Stop d1 too: the endpoint has nothing running.
    client.patch(
        f"{P}/endpoints/{ep['id']}/deployments/{dep['id']}",
        json={"autoscaling": {"minReplicas": 0, "maxReplicas": 0}},
    )
    down = client.post("/v1/chat/completions", json=chat)
    assert down.status_code == 400 and down.json()["error"]["code"] == "dedicated_endpoint_not_running"
    assert "d1: STOPPED" in down.json()["error"]["message"]

    # Restart d1 (≥1 replica) and it serves again.
    client.patch(
        f"{P}/endpoints/{ep['id']}/deployments/{dep['id']}",
        json={"autoscaling": {"minReplicas": 1, "maxReplicas": 1}},
    )
    wait_state(client, ep["id"], dep["id"], "DEPLOYMENT_STATE_READY")
    assert client.post("/v1/chat/completions", json=chat).status_code == 200

    # Teardown order: the endpoint refuses while deployments exist.
    refused = client.delete(f"{P}/endpoints/{ep['id']}")
    assert refused.status_code == 400 and "Delete the deployments first" in refused.json()["error"]["message"]
    stale = client.delete(f"{P}/endpoints/{ep['id']}/deployments/{dep['id']}", params={"etag": "et_old"})
    assert stale.status_code == 409
    for d in (dep, dep2):
        assert client.delete(f"{P}/endpoints/{ep['id']}/deployments/{d['id']}").json() == {}
    assert client.get(f"{P}/endpoints/{ep['id']}").json()["trafficSplit"] == []
    assert client.delete(f"{P}/endpoints/{ep['id']}").json() == {}
    assert rt.pool.loaded() == []


def test_deployment_validation(served_engine, tiny_model: Path) -> None:
    state, client = served_engine
    model = register_tiny(state, tiny_model)
    ep = client.post(f"{P}/endpoints", json={"name": "v"}).json()
    url = f"{P}/endpoints/{ep['id']}/deployments"
    base = {
        "name": "d",
        "model": f"projects/{PID}/models/{model.id}",
        "config": f"projects/{PID}/configs/cr_local_cpu",
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
    }

    def error(body: dict, **params) -> dict:
        response = client.post(url, json=body, params=params)
        assert response.status_code in (400, 404), response.text
        return response.json()["error"]

    assert "30 and 1440" in error({**base, "inactiveTimeout": 10})["message"]
    assert error({**base, "model": "ml_x"})["param"] == "model"
    assert error({**base, "model": f"projects/{PID}/models/ml_missing"})
    assert error({**base, "model": f"projects/{PID}/models/{model.id}/revisions/rv_missing"})
    assert "configs" in error({**base, "config": f"projects/{PID}/configs/cr_nope"})["message"]
    assert (
        error({**base, "autoscaling": {"minReplicas": 2, "maxReplicas": 1}})["param"]
        == "autoscaling.maxReplicas"
    )
    assert error({**base, "autoscaling": {"minReplicas": -1}})["param"].startswith("autoscaling")

    dry = client.post(url, json=base, params={"validateOnly": "true"})
    assert dry.status_code == 200 and dry.json()["name"] == "local/v/d"
    assert client.get(url).json()["data"] == []

    created = client.post(url, json={**base, "inactiveTimeout": 0}).json()
    assert created["inactiveTimeout"] == 0
    assert client.post(url, json=base).status_code == 409
    bad = client.patch(f"{url}/{created['id']}", json={"inactiveTimeout": 5000})
    assert bad.status_code == 400
    client.delete(f"{url}/{created['id']}")


def test_inactive_timeout_stops_an_idle_deployment(served_engine, tiny_model: Path) -> None:
    state, client = served_engine
    model = register_tiny(state, tiny_model)
    ep, dep = serve(client, model.id, "idle", inactiveTimeout=30)
    rt = runtime(state)
    assert rt.reap_once(now=time.time() + 29 * 60) == []
    chat = {"model": "local/idle", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200  # the clock restarts
    assert rt.reap_once(now=time.time() + 31 * 60) == [dep["id"]]
    after = client.get(f"{P}/endpoints/{ep['id']}/deployments/{dep['id']}").json()
    assert (
        after["status"]["state"] == "DEPLOYMENT_STATE_STOPPED"
        and "inactiveTimeout" in after["status"]["message"]
    )
    events = client.get(f"{P}/endpoints/{ep['id']}/events", params={"limit": 1}).json()["data"]
    assert events[0]["type"] == "deployment.auto_stopped"


def test_load_failure_is_failed_with_the_root_line(served_engine, tmp_path: Path) -> None:
    state, client = served_engine
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(
        json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    )
    model = register_tiny(state, broken, name="broken")
    ep = client.post(f"{P}/endpoints", json={"name": "b"}).json()
    dep = deploy(client, ep["id"], model.id)
    failed = wait_state(client, ep["id"], dep["id"], "DEPLOYMENT_STATE_FAILED")
    assert failed["status"]["message"].startswith("Model load failed:")
    assert "Traceback" not in failed["status"]["message"]
    warn = client.get(f"{P}/endpoints/{ep['id']}/events", params={"minLevel": "LEVEL_WARN"}).json()["data"]
    assert [e["type"] for e in warn] == ["deployment.failed"]


def test_adapter_deploys_on_its_base(served_engine, tiny_model: Path, tmp_path: Path) -> None:
    state, client = served_engine
    base = register_tiny(state, tiny_model, name="tiny-base")
    adapter_dir = make_adapter(tiny_model, tmp_path / "adapter")
    adapter = register_model(
        state.db,
        project_id=PID,
        project_slug="local",
        name="tiny-ft-adapter",
        kind="adapter",
        path=adapter_dir,
        base_model_id=base.id,
    )
    got = client.get(f"{P}/models/{adapter.id}").json()
    assert (
        got["weights"]["type"] == "WEIGHTS_TYPE_ADAPTER"
        and got["baseModel"] == f"projects/{PID}/models/{base.id}"
    )
    ep, dep = serve(client, adapter.id, "lora")
    chat = {"model": "local/lora", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200

    # Registry deletes refuse while something depends on the model.
    in_use = client.delete(f"{P}/models/{adapter.id}")
    assert in_use.status_code == 400 and "deployments" in in_use.json()["error"]["message"]
    client.delete(f"{P}/endpoints/{ep['id']}/deployments/{dep['id']}")
    is_base = client.delete(f"{P}/models/{base.id}")
    assert is_base.status_code == 400 and "local/tiny-ft-adapter" in is_base.json()["error"]["message"]
    assert client.delete(f"{P}/models/{adapter.id}").json() == {}
    assert client.delete(f"{P}/models/{base.id}").json() == {}
    assert client.get(f"{P}/models").json()["data"] == []
    assert tiny_model.is_dir()  # the weights stay on disk


def test_ready_deployments_come_back_after_a_restart(tmp_path: Path, tiny_model: Path) -> None:
    data_dir = tmp_path / "engine"
    with engine_client(data_dir) as (state, client):
        model = register_tiny(state, tiny_model)
        ep, dep = serve(client, model.id, "again")
    with engine_client(data_dir) as (state, client):
        back = wait_state(client, ep["id"], dep["id"], "DEPLOYMENT_STATE_READY")
        assert back["id"] == dep["id"]
        chat = {"model": "local/again", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        assert client.post("/v1/chat/completions", json=chat).status_code == 200


@pytest.mark.anyio
@pytest.mark.slow
async def test_a_finished_jobs_merged_model_and_adapterdeploy(
    engine_async, tiny_model: Path, overfit_bytes: bytes
) -> None:
    """The job runner registers its outputs; both the merged model and the adapter deploy and answer."""
    from support.engine import job_body, upload, wait_deployment, wait_job

    client, _state = engine_async
    file = await upload(client, overfit_bytes)
    job = (await client.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model, n_epochs=1))).json()
    done = await wait_job(client, job["id"])
    assert done["status"] == "completed", done
    merged = (await client.get(f"{P}/models/{done['model_object_id']}")).json()
    adapter = (await client.get(f"{P}/models/{done['adapter_object_id']}")).json()
    assert (
        merged["name"] == done["model_object_name"] and adapter["weights"]["type"] == "WEIGHTS_TYPE_ADAPTER"
    )
    assert adapter["baseModelId"] == merged["baseModelId"]  # both derive from the base the job trained

    ep = (await client.post(f"{P}/endpoints", json={"name": "from-job"})).json()
    deps = {}
    for name, model_id, revision in (
        ("merged", done["model_object_id"], done["model_object_revision_id"]),
        ("lora", done["adapter_object_id"], done["adapter_object_revision_id"]),
    ):
        body = {
            "name": name,
            "model": f"projects/{PID}/models/{model_id}/revisions/{revision}",
            "config": f"projects/{PID}/configs/cr_local_cpu",
            "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
        }
        response = await client.post(f"{P}/endpoints/{ep['id']}/deployments", json=body)
        assert response.status_code == 200, response.text
        deps[name] = response.json()["id"]
    for dep_id in deps.values():
        status = (await wait_deployment(client, ep["id"], dep_id))["status"]
        assert status["state"] == "DEPLOYMENT_STATE_READY", status
    for name in deps:
        chat = {
            "model": f"local/from-job/{name}",
            "messages": [{"role": "user", "content": "What do bees make?"}],
            "max_tokens": 6,
            "temperature": 0,
        }
        answer = await client.post("/v1/chat/completions", json=chat)
        assert answer.status_code == 200, answer.text


@pytest.fixture
async def engine_async(engine):
    """The core engine fixture (in-process app whose lifespan runs the job runner and deploy runtime)."""
    return engine


@pytest.mark.parametrize(
    ("name", "gib", "accelerator", "gpu_type"),
    [
        ("NVIDIA H100 80GB HBM3", 80, "nvidia-h100-80gb", "H100"),
        ("NVIDIA A100-SXM4-40GB", 40, "nvidia-a100-40gb", "A100"),
        ("NVIDIA GeForce RTX 4090", 24, "nvidia-rtx-4090-24gb", "RTX 4090"),
    ],
)
def test_gpu_names_become_together_style_accelerator_types(
    name: str, gib: int, accelerator: str, gpu_type: str
) -> None:
    from byom.engine.devices import _accelerator_type

    assert _accelerator_type(name, gib * 1024**3) == (accelerator, gpu_type)


def test_memory_fit_rules() -> None:
    from byom.engine.devices import Device, fits

    gpu = Device("cuda:0", "nvidia-l4-24gb", "L4", 24 * 1024**3, "NVIDIA L4")
    cpu = Device("cpu", "cpu", "CPU", 1024**3, "CPU")
    assert fits(7_000_000_000, gpu)  # 7B in bf16 with headroom
    assert not fits(13_000_000_000, gpu)
    assert fits(13_000_000_000, cpu)  # the CPU config is always offered (slow, but it runs)
    assert gpu.config_id == "cr_local_cuda0" and gpu.hardware == "1xnvidia-l4-24gb"
