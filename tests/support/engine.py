"""The one engine harness of the tests: every engine state opens through ``_open`` (one key, the CPU), as an
in-process app (with its lifespan) or a real process; request bodies, polling, the Together error shape, and the
deploy helpers around a tiny real model."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2

from byom.config import Settings
from byom.engine.state import EngineConfig, EngineState
from support.poll import HANG_S, until, until_sync

KEY = "engine-test-key"
BASE_URL = "http://127.0.0.1:8377"
AUTH = {"Authorization": f"Bearer {KEY}"}
TEMPLATE = "Qwen/Qwen3-0.6B"  # any catalog base works as the template of a local job
TERMINAL = ("completed", "error", "cancelled", "user_error")
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.testclient import TestClient

from byom.config import load_settings
from byom.engine.app import create_app
from byom.engine.deploy.registry import RegisteredModel, register_model
from byom.engine.deploy.runtime import DeployRuntime

# create_finetune's settings for a job that finishes in seconds on a CPU: 3 epochs of the 16-row overfit set at
# the smallest batch the recommended base allows.
FAST_JOB: dict[str, Any] = {
    "n_epochs": 3,
    "batch_size": 8,
    "learning_rate": 0.01,
    "lora_r": 8,
    "lora_alpha": 16,
}


def job_body(training_file: str, model_dir: Path, **overrides: Any) -> dict[str, Any]:
    """A small, fast job that overfits the tiny model (3 epochs of 16 rows at batch 4)."""
    body: dict[str, Any] = {
        "training_file": training_file,
        "model": TEMPLATE,
        "from_hf_model": str(model_dir),
        "n_epochs": 3,
        "n_checkpoints": 3,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "packing": False,
        "lr_scheduler": {"lr_scheduler_type": "linear", "lr_scheduler_args": {"min_lr_ratio": 0.0}},
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
    }
    body.update(overrides)
    return body


def keyed_settings(root: Path) -> tuple[Settings, Path]:
    """byom's settings for the local engine with no BYOM_ENGINE_API_KEY: the key is read from the engine's key
    file, which holds ``KEY`` (the path is returned, for a test that changes it)."""
    from byom.config import engine_key_path

    settings = Settings(
        data_dir=root / "byom", cache_dir=root / "byom-cache", engine_url=BASE_URL, backend_choice="local"
    )
    key_file = engine_key_path(settings)
    key_file.parent.mkdir(parents=True)
    key_file.write_text(KEY)
    return settings, key_file


def make_state(root: Path, *allowed: Path, api_key: str = KEY, **config: Any) -> EngineState:
    """An opened engine state under ``root``; ``allowed`` dirs may hold local models (the tiny one)."""
    config = {"poll_interval_s": 0.1, "cancel_grace_s": 3.0, **config}
    settings = Settings(data_dir=root / "data", cache_dir=root / "cache")
    return _open(root / "engine", api_key, BASE_URL, settings, allowed_roots=(root, *allowed), **config)


def _open(engine_dir: Path, api_key: str, base_url: str, settings: Settings, **config: Any) -> EngineState:
    """The one way the tests open an engine: on the CPU, whatever this machine has."""
    return EngineState.open(
        engine_dir,
        api_key=api_key,
        base_url=base_url,
        settings=settings,
        config=EngineConfig(**{"device": "cpu", **config}),
    )


async def upload(
    client: httpx2.AsyncClient, data: bytes, name: str = "train.jsonl", wait: bool = True
) -> dict[str, Any]:
    """The SDK's three-step upload, by hand; waits for validation to finish."""
    checksum = hashlib.sha256(data).hexdigest()
    form = {"purpose": "fine-tune", "file_name": name, "file_type": "jsonl", "checksum": checksum}
    r = await client.post("/v1/files", files={k: (None, v) for k, v in form.items()})
    assert r.status_code == 302, r.text
    put = await client.put(r.headers["location"], content=data, headers={"Authorization": ""})
    assert put.status_code == 200, put.text
    file_id = r.headers["x-together-file-id"]
    r = await client.post(f"/v1/files/{file_id}/preprocess")
    assert r.status_code == 200, r.text
    return await wait_file(client, file_id) if wait else r.json()


async def wait_file(client: httpx2.AsyncClient, file_id: str, timeout: float = HANG_S) -> dict[str, Any]:
    """The file once its validation has finished (any processing status but PENDING)."""

    async def done() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/v1/files/{file_id}")).json()
        return body if body["processing_status"] != "PENDING" else None

    return await until(done, f"file {file_id} to be validated", timeout=timeout)


def wait_file_sync(client: TestClient | httpx2.Client, file_id: str) -> dict[str, Any]:
    """``wait_file`` for a blocking client (a ``TestClient``; an ``httpx2.Client`` on an engine process)."""

    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"/v1/files/{file_id}").json()
        return body if body["processing_status"] != "PENDING" else None

    return until_sync(done, f"file {file_id} to be validated")


async def wait_job(
    client: httpx2.AsyncClient, job_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = HANG_S
) -> dict[str, Any]:
    """The job once its status is one of ``statuses`` (by default: it ended)."""

    async def reached() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/v1/fine-tunes/{job_id}")).json()
        return body if body["status"] in statuses else None

    return await until(reached, f"job {job_id} to reach {statuses}", timeout=timeout, interval=0.1)


async def wait_deployment(
    client: httpx2.AsyncClient, ep: str, dep: str, timeout: float = HANG_S
) -> dict[str, Any]:
    """The deployment once it has left PROVISIONING (ready, failed or stopped): the caller asserts which."""

    async def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"{P}/endpoints/{ep}/deployments/{dep}")).json()
        return body if body["status"]["state"] != "DEPLOYMENT_STATE_PROVISIONING" else None

    return await until(settled, f"deployment {dep} to leave PROVISIONING", timeout=timeout)


def assert_together_error(response: httpx2.Response, status: int, param: str | None = None) -> dict[str, Any]:
    """Together's error shape: {"error": {"message", "type", "param", "code"}}; no traceback."""
    assert response.status_code == status, response.text
    body = response.json()
    error = body["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["message"] and "Traceback" not in error["message"]
    if param is not None:
        assert error["param"] == param, error
    return body


# ---- the engine as a real process ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EngineProcess:
    """``python -m byom engine`` on a free loopback port; ``kill()`` is ``kill -9``."""

    def __init__(
        self, data_dir: Path, allow_dir: Path, port: int | None = None, api_key: str | None = None
    ) -> None:
        self.api_key = api_key  # None: the engine makes its own and writes it to the data dir
        self.data_dir = data_dir
        self.allow_dir = allow_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"engine-{self.port}.log"

    def start(self) -> EngineProcess:
        env = {k: v for k, v in os.environ.items() if k != "BYOM_ENGINE_API_KEY"}
        cmd = [
            sys.executable,
            "-m",
            "byom",
            "engine",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--allow-dir",
            str(self.allow_dir),
            *(["--api-key", self.api_key] if self.api_key else []),
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        proc = self.proc

        def answers() -> bool:
            assert proc.poll() is None, self.log.read_text()  # died: say why at once, not at the failsafe
            try:
                return httpx2.get(f"{self.url}/health", timeout=1).status_code == 200
            except httpx2.TransportError:
                return False

        until_sync(answers, f"the engine on {self.url} to answer /health", interval=0.1)
        return self

    @property
    def key(self) -> str:
        return self.api_key or (self.data_dir / "api_key").read_text().strip()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# ---- deploy and serving -----------------------------------------------------------------------------
API_KEY = KEY  # one key for every engine the tests open
PID = "proj_local"
P = f"/v2/projects/{PID}"


def open_state(data_dir: Path) -> EngineState:
    """The engine state the deploy tests serve from ``data_dir`` (the user's settings, a ``TestClient`` base URL)."""
    # No background auto-stop thread in tests: they drive the clock with reap_once(now=...).
    return _open(data_dir, API_KEY, "http://testserver", load_settings(), autostop_interval_s=0)


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


def serve(
    client: TestClient, model_id: str, endpoint: str = "chat", **extra: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new endpoint ``endpoint`` with one deployment of a registered model, once it is READY: (endpoint, deployment)."""
    ep: dict[str, Any] = client.post(f"{P}/endpoints", json={"name": endpoint}).json()
    dep = deploy(client, ep["id"], model_id, **extra)
    return ep, wait_state(client, ep["id"], dep["id"], "DEPLOYMENT_STATE_READY")


def wait_state(client: TestClient, ep: str, dep: str, *want: str, timeout: float = HANG_S) -> dict[str, Any]:
    """The deployment once its state is one of ``want``."""

    def reached() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(f"{P}/endpoints/{ep}/deployments/{dep}").json()
        return body if body["status"]["state"] in want else None

    return until_sync(reached, f"deployment {dep} to reach {want}", timeout=timeout)


def make_adapter(base: Path, dest: Path, *, active: bool = False) -> Path:
    """A real PEFT LoRA adapter on the tiny base (random init, saved with PEFT's own writer).

    PEFT starts ``lora_B`` at zero, so the adapter changes nothing; ``active`` fills every LoRA weight with a
    fixed non-zero pattern instead, so that generation with the adapter deterministically differs from the base.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    if active:
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for name, param in peft_model.named_parameters():
                if "lora_" in name:
                    param.copy_(torch.randn(param.shape, generator=generator) * 0.5)
    peft_model.save_pretrained(dest)
    return dest


def runtime(state: EngineState) -> DeployRuntime:
    return state.deploy


def make_constant_model(base: Path, dest: Path, token: str) -> Path:
    """A copy of the tiny model that answers ``token`` (one token of its vocabulary) at every step, whatever the
    prompt: attention and MLP outputs are zeroed, every embedding is the first unit vector, and only ``token``'s
    row of the LM head reads it. A real model for the judge's part (with ``max_tokens`` 1: exactly ``token``)."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    token_id = tokenizer.convert_tokens_to_ids(token)
    assert token_id is not None and token_id != tokenizer.unk_token_id, token
    model = AutoModelForCausalLM.from_pretrained(base)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.embed_tokens.weight.zero_()
        model.model.embed_tokens.weight[:, 0] = 1.0
        model.lm_head.weight.zero_()
        model.lm_head.weight[token_id, 0] = 1.0
    shutil.copytree(base, dest)
    model.save_pretrained(dest)
    return dest
