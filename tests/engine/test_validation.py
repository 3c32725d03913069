"""Every bad fine-tune request is a 4xx in Together's error shape that names the field (table-driven)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.engine.state import EngineState
from support.engine import assert_together_error, job_body, upload

pytestmark = pytest.mark.anyio

GOOD = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 4

# (overrides of a valid body, expected param)
BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"model": None}, "model"),
    ({"model": "nobody/nothing"}, "model"),
    ({"training_file": "file-nope"}, "training_file"),
    ({"training_file": ""}, "training_file"),
    ({"validation_file": "file-nope"}, "validation_file"),
    ({"n_epochs": 0}, "n_epochs"),
    ({"n_epochs": 10_000}, "n_epochs"),
    ({"n_checkpoints": 0}, "n_checkpoints"),
    ({"n_evals": 3}, "n_evals"),  # evals without a validation file
    ({"n_evals": -1}, "n_evals"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": 5.0}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 100_000}, "batch_size"),
    ({"batch_size": "huge"}, "batch_size"),
    ({"warmup_ratio": 1.5}, "warmup_ratio"),
    ({"max_grad_norm": -1}, "max_grad_norm"),
    ({"weight_decay": -0.1}, "weight_decay"),
    ({"max_seq_length": 10}, "max_seq_length"),
    ({"max_seq_length": 10_000_000}, "max_seq_length"),
    ({"lr_scheduler": {"lr_scheduler_type": "step"}}, "lr_scheduler.lr_scheduler_type"),
    ({"training_type": {"type": "Lora", "lora_r": 100_000}}, "training_type.lora_r"),
    ({"training_type": {"type": "Lora", "lora_r": 8, "lora_dropout": 1.0}}, "training_type.lora_dropout"),
    (
        {"training_type": {"type": "Lora", "lora_r": 8, "lora_trainable_modules": "q_proj; rm -rf"}},
        "training_type.lora_trainable_modules",
    ),
    ({"training_type": {"type": "Half"}}, "training_type.type"),
    ({"training_method": {"method": "ppo"}}, "training_method.method"),
    ({"training_method": {"method": "dpo"}}, "training_method"),  # DPO needs preference data
    ({"training_method": {"method": "sft", "dpo_beta": 0.2}}, "training_method"),
    ({"suffix": "x" * 41}, "suffix"),
    ({"from_hf_model": "/etc"}, "from_hf_model"),
    ({"from_hf_model": "not a repo id!"}, "from_hf_model"),
    ({"from_checkpoint": "ft-nope"}, "from_checkpoint"),
    ({"from_checkpoint": "ft-nope:3"}, "from_checkpoint"),
]


@pytest.fixture
async def good_file(client: httpx2.AsyncClient) -> dict[str, Any]:
    return await upload(client, GOOD)


@pytest.mark.parametrize(
    ("overrides", "param"), BAD_BODIES, ids=[p + str(i) for i, (_, p) in enumerate(BAD_BODIES)]
)
async def test_bad_create_bodies(
    client: httpx2.AsyncClient,
    good_file: dict[str, Any],
    tiny_model: Path,
    overrides: dict[str, Any],
    param: str,
) -> None:
    body = {**job_body(good_file["id"], tiny_model), **overrides}
    body = {k: v for k, v in body.items() if v is not None}
    if "from_checkpoint" in overrides:
        body.pop("from_hf_model")
    r = await client.post("/v1/fine-tunes", json=body)
    assert_together_error(r, 400, param=param)
    assert (await client.get("/v1/fine-tunes")).json()["data"] == []


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"training_file": 5}'])
async def test_malformed_create_bodies(client: httpx2.AsyncClient, raw: bytes) -> None:
    r = await client.post("/v1/fine-tunes", content=raw, headers={"Content-Type": "application/json"})
    assert_together_error(r, 400)


async def test_files_that_are_not_ready(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path
) -> None:
    client, state = engine
    invalid = await upload(client, b"{broken\n")
    r = await client.post("/v1/fine-tunes", json=job_body(invalid["id"], tiny_model))
    body = assert_together_error(r, 400, param="training_file")
    assert "INVALID_FORMAT" in body["error"]["message"] and "line 1" in body["error"]["message"].lower()
    # Validated first, then marked PENDING: the validation thread can no longer overwrite the status.
    pending = await upload(client, GOOD + GOOD)
    state.db.execute("UPDATE files SET processing_status = 'PENDING' WHERE id = ?", (pending["id"],))
    r = await client.post("/v1/fine-tunes", json=job_body(pending["id"], tiny_model))
    assert "still being validated" in assert_together_error(r, 400, param="training_file")["error"]["message"]


async def test_unknown_job_ids_are_404(client: httpx2.AsyncClient) -> None:
    for method, path in [
        ("GET", "/v1/fine-tunes/ft-x"),
        ("GET", "/v1/fine-tunes/ft-x/events"),
        ("GET", "/v1/fine-tunes/ft-x/checkpoints"),
        ("GET", "/v1/fine-tunes/ft-x/metrics"),
        ("POST", "/v1/fine-tunes/ft-x/cancel"),
        ("DELETE", "/v1/fine-tunes/ft-x"),
    ]:
        assert_together_error(await client.request(method, path), 404)


async def test_bad_metric_filters(
    client: httpx2.AsyncClient, good_file: dict[str, Any], tiny_model: Path
) -> None:
    job = (await client.post("/v1/fine-tunes", json=job_body(good_file["id"], tiny_model))).json()
    for params, param in [
        ({"global_step_from": "x"}, "global_step_from"),
        ({"logged_at_to": "yesterday"}, "logged_at_to"),
        ({"resolution": "0"}, "resolution"),
    ]:
        assert_together_error(
            await client.get(f"/v1/fine-tunes/{job['id']}/metrics", params=params), 400, param
        )
    assert_together_error(await client.delete(f"/v1/fine-tunes/{job['id']}"), 409)
    await client.post(f"/v1/fine-tunes/{job['id']}/cancel")
