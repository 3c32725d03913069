"""Serving on demand: a model with no deployment loads in the background (503 model_loading until then), within
the device's memory, at most ``capacity`` at once (least recently used out first), and unloads when idle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from byom.engine.deploy.host import LoadSpec, ModelPool
from byom.engine.deploy.ondemand import OnDemand
from byom.engine.devices import Device
from byom.errors import InvalidRequest, ModelLoading
from support.engine import engine_client, register_tiny
from support.poll import HANG_S

CPU = Device("cpu", "cpu", "CPU", 64 * 1024**3, "CPU")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _loaded(pool: OnDemand, spec: LoadSpec) -> None:
    with pytest.raises(ModelLoading, match="send the same request again"):
        pool.get(spec, CPU, 1000, "tiny")
    assert pool.wait(spec, HANG_S)
    pool.get(spec, CPU, 1000, "tiny")


def test_a_model_loads_in_the_background_and_then_answers(tiny_model: Path) -> None:
    pool = OnDemand(ModelPool())
    spec = LoadSpec(str(tiny_model))
    _loaded(pool, spec)
    assert pool.pool.loaded() == [spec]
    pool.close()
    assert pool.pool.loaded() == []


def test_a_model_too_large_for_the_device_is_refused_without_loading(tiny_model: Path) -> None:
    pool = OnDemand(ModelPool())
    with pytest.raises(InvalidRequest, match="needs about .* GiB") as caught:
        pool.get(LoadSpec(str(tiny_model)), CPU, 10**12, "huge")
    assert caught.value.code == "model_too_large"
    assert pool.pool.loaded() == []


def test_the_least_recently_used_model_leaves_first_and_an_idle_one_unloads(
    tiny_model: Path, tmp_path: Path
) -> None:
    clock = Clock()
    pool = OnDemand(ModelPool(), capacity=2, idle_s=60, clock=clock)
    first, second, third = (LoadSpec(str(shutil.copytree(tiny_model, tmp_path / n))) for n in "abc")
    _loaded(pool, first)
    clock.now += 1
    _loaded(pool, second)
    clock.now += 1
    pool.get(first, CPU, 1000, "tiny")  # first is now the most recently used
    clock.now += 1
    _loaded(pool, third)  # capacity 2: second leaves
    assert set(pool.pool.loaded()) == {first, third}
    clock.now += 61
    assert set(pool.reap(clock.now)) == {first.path, third.path}
    assert pool.pool.loaded() == []


def test_the_engine_answers_a_registered_model_on_demand_with_503_until_loaded(
    tmp_path: Path, tiny_model: Path
) -> None:
    with engine_client(tmp_path / "engine") as (state, client):
        register_tiny(state, tiny_model, name="solo")
        chat = {"model": "local/solo", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        loading = client.post("/v1/chat/completions", json=chat)
        assert loading.status_code == 503, loading.text
        assert loading.json()["error"]["code"] == "model_loading" and loading.headers["retry-after"]
        spec = next(iter(state.deploy.on_demand._entries))
        assert state.deploy.on_demand.wait(spec, HANG_S)
        answered = client.post("/v1/chat/completions", json=chat)
        assert answered.status_code == 200, answered.text
        assert answered.json()["usage"]["completion_tokens"] > 0


def test_resolve_may_wait_for_the_load_from_a_worker_thread(tmp_path: Path, tiny_model: Path) -> None:
    """What code that generates outside the HTTP routes (evaluations) calls: one blocking resolve."""
    with engine_client(tmp_path / "engine") as (state, _client):
        register_tiny(state, tiny_model, name="waited")
        target = state.deploy.resolve("local/waited", wait_s=HANG_S)
        assert target.deployment is None and target.model.spec.path == str(tiny_model)
