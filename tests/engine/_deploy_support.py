"""Shared pieces of the deploy/serving tests: a real engine app around a tiny model (no mocks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from byom.config import load_settings
from byom.engine.app import create_app
from byom.engine.deploy.registry import RegisteredModel, register_model
from byom.engine.deploy.runtime import DeployRuntime
from byom.engine.state import EngineConfig, EngineState

API_KEY = "test-engine-key"
PID = "proj_local"
P = f"/v2/projects/{PID}"


def open_state(data_dir: Path) -> EngineState:
    # No background auto-stop thread in tests: they drive the clock with reap_once(now=...).
    return EngineState.open(
        data_dir,
        api_key=API_KEY,
        base_url="http://testserver",
        settings=load_settings(),
        config=EngineConfig(autostop_interval_s=0, device="cpu"),
    )


@contextmanager
def engine_client(data_dir: Path) -> Iterator[tuple[EngineState, TestClient]]:
    state = open_state(data_dir)
    try:
        with TestClient(create_app(state), headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            yield state, client
    finally:
        state.close()


def register_tiny(state: EngineState, path: Path, name: str = "tiny-ft") -> RegisteredModel:
    return register_model(state.db, project_id=PID, project_slug="local", name=name, kind="model", path=path)


def deploy(client: TestClient, ep_id: str, model_id: str, name: str = "d1", **extra: Any) -> dict[str, Any]:
    """Create a deployment of a registered model on the local CPU config (one replica); asserts 200."""
    body = {
        "name": name,
        "model": f"projects/{PID}/models/{model_id}",
        "config": f"projects/{PID}/configs/cr_local_cpu",
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
        **extra,
    }
    response = client.post(f"{P}/endpoints/{ep_id}/deployments", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def wait_state(client: TestClient, ep: str, dep: str, *want: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"{P}/endpoints/{ep}/deployments/{dep}").json()
        if body["status"]["state"] in want:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"deployment stuck in {body['status']}")
        time.sleep(0.05)


def make_adapter(base: Path, dest: Path) -> Path:
    """A real PEFT LoRA adapter on the tiny base (random init, saved with PEFT's own writer)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    peft_model.save_pretrained(dest)
    return dest


def runtime(state: EngineState) -> DeployRuntime:
    return state.deploy


def _tiny_model_fixture(tmp_path_factory: Any) -> Path:
    from byom.engine.tiny import make_tiny_llama

    return make_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama")


def tiny_fixture() -> Any:
    import pytest

    return pytest.fixture(scope="session")(_tiny_model_fixture)
