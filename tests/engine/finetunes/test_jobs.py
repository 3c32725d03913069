"""Fine-tune jobs on the real engine (in-process app, real trainer subprocesses, tiny model)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import statistics
import tarfile
from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.engine.state import EngineState
from support.engine import assert_together_error, job_body, upload, wait_job

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _losses(metrics: list[dict[str, float]]) -> list[float]:
    return [m["train/loss"] for m in metrics if "train/loss" in m]


def _falls(losses: list[float]) -> bool:
    third = max(1, len(losses) // 3)
    return statistics.mean(losses[-third:]) < statistics.mean(losses[:third])


async def test_lora_job_completes_then_continues_from_a_checkpoint(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = engine
    file = await upload(client, overfit_bytes)
    secret = "hf_secret_token_value_123"
    created = await client.post(
        "/v1/fine-tunes",
        json=job_body(file["id"], tiny_model, suffix="demo", hf_api_token=secret, wandb_key="wk-1"),
    )
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["status"] in ("queued", "running") and job["user_id"]
    assert job["model_output_name"].startswith("local/model-demo-")
    assert secret not in created.text and "wk-1" not in created.text

    done = await wait_job(client, job["id"])
    assert done["status"] == "completed", done
    assert done["steps_completed"] == done["total_steps"] == 12 and done["epochs_completed"] == 3
    assert done["token_count"] > 0 and done["param_count"] > 0
    assert done["model_object_id"].startswith("ml_") and done["adapter_object_id"].startswith("ml_")
    assert done["adapter_object_name"] == f"{done['model_object_name']}-adapter"
    assert done["training_type"]["type"] == "Lora" and done["batch_size"] == 4

    events = (await client.get(f"/v1/fine-tunes/{job['id']}/events")).json()["data"]
    types = [e["type"] for e in events]
    assert types[0] == "job_pending" and types[-1] == "job_complete"
    # The status "uploading" (registering the outputs) has its own event: the stage never lags the events.
    assert types[-4:] == [
        "model_compressing",
        "model_compression_complete",
        "model_uploading",
        "job_complete",
    ]
    assert {"job_start", "training_start", "checkpoint_save", "warning"} <= set(types)
    assert all(e["object"] == "fine-tune-event" and e["created_at"] for e in events)
    assert any("Weights & Biases" in e["message"] for e in events if e["type"] == "warning")

    checkpoints = (await client.get(f"/v1/fine-tunes/{job['id']}/checkpoints")).json()["data"]
    assert [c["step"] for c in checkpoints] == [12, 8, 4]
    assert (
        checkpoints[0]["checkpoint_type"] == "Final"
        and checkpoints[0]["object_id"] == done["adapter_object_id"]
    )
    assert all(c["checkpoint"] == "adapter" and Path(c["path"]).is_dir() for c in checkpoints)

    metrics = (await client.get(f"/v1/fine-tunes/{job['id']}/metrics")).json()["metrics"]
    assert _falls(_losses(metrics)), _losses(metrics)
    window = (
        await client.get(
            f"/v1/fine-tunes/{job['id']}/metrics", params={"global_step_from": 3, "global_step_to": 6}
        )
    ).json()["metrics"]
    assert {m["train/global_step"] for m in window} <= {3.0, 4.0, 5.0, 6.0} and window
    sampled = (await client.get(f"/v1/fine-tunes/{job['id']}/metrics", params={"resolution": 3})).json()[
        "metrics"
    ]
    assert len(sampled) == 3

    # The weights download as .tar.gz archives (the SDK's fine_tuning.content), final or at a step.
    for params, top in [
        ({"checkpoint": "adapter"}, "adapter"),
        ({"checkpoint": "merged"}, "merged"),
        ({"checkpoint_step": 8}, "step-8"),
    ]:
        r = await client.get("/v1/finetune/download", params={"ft_id": job["id"], **params})
        assert r.status_code == 200 and "x-tar" in r.headers["content-type"], r.text
        with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tar:
            names = tar.getnames()
        assert names[0].endswith(top) and any(n.endswith(".safetensors") for n in names), names
    ranged = await client.get(
        "/v1/finetune/download",
        params={"ft_id": job["id"], "checkpoint": "adapter"},
        headers={"Range": "bytes=0-1"},
    )
    assert ranged.status_code == 206 and ranged.headers["content-range"].startswith("bytes 0-1/")
    r = await client.get("/v1/finetune/download", params={"ft_id": job["id"], "checkpoint_step": 5})
    assert_together_error(r, 404, param="checkpoint_step")
    # The token reached the trainer's environment only: not the DB, not the spec.
    job_dir = Path(
        json.loads(state.db.one("SELECT spec FROM jobs WHERE id = ?", (job["id"],))["spec"])["job_dir"]
    )
    assert secret not in (job_dir / "spec.json").read_text()
    assert secret.encode() not in (state.data_dir / "engine.db").read_bytes()
    assert not any(
        secret.encode() in p.read_bytes() for p in state.data_dir.glob("engine.db*") if p.is_file()
    )

    # The SDK asks for limits with model_name=<job id> when only from_checkpoint is given (ref §2.2).
    limits = await client.get("/v1/fine-tunes/models/limits", params={"model_name": job["id"]})
    assert limits.status_code == 200 and limits.json()["model_name"] == job["model"]
    # Continue from the intermediate checkpoint at step 8: the parent's type and base are inherited.
    child = await client.post(
        "/v1/fine-tunes",
        json={
            "training_file": file["id"],
            "from_checkpoint": f"{job['id']}:8",
            "n_epochs": 1,
            "batch_size": 4,
            "learning_rate": 1e-2,
            "packing": False,
            "n_checkpoints": 1,
        },
    )
    assert child.status_code == 200, child.text
    assert child.json()["training_type"]["type"] == "Lora" and child.json()["from_hf_model"] == str(
        tiny_model
    )
    child_done = await wait_job(client, child.json()["id"])
    assert child_done["status"] == "completed", child_done
    child_losses = _losses((await client.get(f"/v1/fine-tunes/{child_done['id']}/metrics")).json()["metrics"])
    # It starts where the parent had got to, not from the random base.
    assert child_losses[0] < _losses(metrics)[0]
    # And its events say which job and step it loaded.
    child_events = (await client.get(f"/v1/fine-tunes/{child_done['id']}/events")).json()["data"]
    assert any(f"Continuing from job {job['id']} step 8" in e["message"] for e in child_events), child_events


async def test_full_job_completes_with_falling_loss(
    client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes
) -> None:
    file = await upload(client, overfit_bytes)
    validation = await upload(
        client, b"".join(overfit_bytes.splitlines(keepends=True)[:6]), name="valid.jsonl"
    )
    body = job_body(
        file["id"],
        tiny_model,
        training_type={"type": "Full"},
        learning_rate=3e-3,
        n_checkpoints=1,
        validation_file=validation["id"],
        n_evals=2,
    )
    created = await client.post("/v1/fine-tunes", json=body)
    assert created.status_code == 200, created.text
    done = await wait_job(client, created.json()["id"])
    assert done["status"] == "completed", done
    assert done["model_object_id"] and "adapter_object_id" not in done
    checkpoints = (await client.get(f"/v1/fine-tunes/{done['id']}/checkpoints")).json()["data"]
    assert checkpoints[0]["checkpoint"] == "model" and checkpoints[0]["object_id"] == done["model_object_id"]
    metrics = (await client.get(f"/v1/fine-tunes/{done['id']}/metrics")).json()["metrics"]
    assert _falls(_losses(metrics))
    assert [m for m in metrics if "eval/loss" in m], "n_evals=2 with a validation file logs eval/loss"
    params = {"ft_id": done["id"], "checkpoint": "model_output_path"}
    assert (await client.get("/v1/finetune/download", params=params)).status_code == 200
    wrong = await client.get("/v1/finetune/download", params={**params, "checkpoint": "adapter"})
    assert "model_output_path" in assert_together_error(wrong, 400, param="checkpoint")["error"]["message"]


async def test_cancel_running_and_queued_jobs(
    client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes
) -> None:
    file = await upload(client, overfit_bytes)
    long = job_body(file["id"], tiny_model, n_epochs=20, n_checkpoints=20, batch_size=1)
    first = (await client.post("/v1/fine-tunes", json=long)).json()
    second = (await client.post("/v1/fine-tunes", json=long)).json()
    assert second["status"] == "queued" and second["queue_depth"] == 1

    cancelled = await client.post(f"/v1/fine-tunes/{second['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    running = await wait_job(client, first["id"], statuses=("running",))
    while running["steps_completed"] < 17:  # past the first checkpoint (16 steps per epoch)
        running = await wait_job(client, first["id"], statuses=("running",))
    # The step rate gives an estimate of the time left.
    assert running["progress"]["estimate_available"] is True and running["progress"]["seconds_remaining"] > 0
    r = await client.post(f"/v1/fine-tunes/{first['id']}/cancel")
    assert r.json()["status"] in ("cancel_requested", "cancelled")
    done = await wait_job(client, first["id"])
    assert done["status"] == "cancelled"
    types = [e["type"] for e in (await client.get(f"/v1/fine-tunes/{first['id']}/events")).json()["data"]]
    assert "cancel_requested" in types and types[-1] == "job_stopped"
    checkpoints = (await client.get(f"/v1/fine-tunes/{first['id']}/checkpoints")).json()["data"]
    assert checkpoints and all(Path(c["path"]).is_dir() for c in checkpoints)
    # Cancelling again is harmless; deleting a finished job removes it.
    assert (await client.post(f"/v1/fine-tunes/{first['id']}/cancel")).status_code == 200
    deleted = await client.delete(f"/v1/fine-tunes/{second['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert_together_error(await client.get(f"/v1/fine-tunes/{second['id']}"), 404)
    listed = [j["id"] for j in (await client.get("/v1/fine-tunes")).json()["data"]]
    assert listed == [first["id"]]


async def test_a_failing_trainer_is_an_error_with_its_root_line(
    client: httpx2.AsyncClient, tmp_path: Path, tiny_model: Path, overfit_bytes: bytes
) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(
        json.dumps({"model_type": "llama", "architectures": ["LlamaForCausalLM"]})
    )
    # A tokenizer, or the create is refused before any trainer runs; no weights, so the trainer fails.
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copy(tiny_model / name, broken / name)
    file = await upload(client, overfit_bytes)
    created = await client.post("/v1/fine-tunes", json=job_body(file["id"], broken))
    assert created.status_code == 200, created.text
    done = await wait_job(client, created.json()["id"])
    assert done["status"] == "error"
    assert done["error"]["message"] and done["error"]["stage"] in ("download", "initialization")
    events = (await client.get(f"/v1/fine-tunes/{done['id']}/events")).json()["data"]
    errors = [e for e in events if e["type"] == "job_error"]
    assert errors and errors[-1]["level"] == "error" and "Traceback" not in errors[-1]["message"]


async def test_estimate_price_counts_tokens(client: httpx2.AsyncClient, overfit_bytes: bytes) -> None:
    file = await upload(client, overfit_bytes)
    body: dict[str, Any] = {
        "training_file": file["id"],
        "model": "Qwen/Qwen3-0.6B",
        "n_epochs": 2,
        "n_evals": 0,
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "training_type": None,
    }
    r = await client.post("/v1/fine-tunes/estimate-price", json=body)
    assert r.status_code == 200, r.text
    estimate = r.json()
    assert estimate["estimation_available"] is True and estimate["allowed_to_proceed"] is True
    assert estimate["estimated_total_price"] == 0
    one_epoch = (await client.post("/v1/fine-tunes/estimate-price", json={**body, "n_epochs": 1})).json()
    assert estimate["estimated_train_token_count"] == 2 * one_epoch["estimated_train_token_count"] > 100
    bad = await upload(client, b"not json\n")
    r = await client.post("/v1/fine-tunes/estimate-price", json={**body, "training_file": bad["id"]})
    assert r.json() == {"estimation_available": False, "unavailable_reason": "train_file_invalid"}
    assert_together_error(
        await client.post("/v1/fine-tunes/estimate-price", json={**body, "training_file": "file-nope"}),
        400,
        "training_file",
    )


async def test_estimate_counts_exact_tokens_with_the_custom_models_tokenizer(
    client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes
) -> None:
    """Given from_hf_model (a byom extension), tokens are counted with that model's chat template."""
    from transformers import AutoTokenizer

    file = await upload(client, overfit_bytes)
    body = {"training_file": file["id"], "model": "Qwen/Qwen3-0.6B", "from_hf_model": str(tiny_model)}
    r = await client.post("/v1/fine-tunes/estimate-price", json=body)
    assert r.status_code == 200, r.text
    estimate = r.json()
    assert estimate["token_count_method"] == "tokenizer"
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rows = [json.loads(line) for line in overfit_bytes.decode().splitlines() if line.strip()]
    expected = sum(
        len(tokenizer.apply_chat_template(row["messages"], tokenize=True, return_dict=True)["input_ids"])
        for row in rows
    )
    assert estimate["estimated_train_token_count"] == expected
    without = (
        await client.post("/v1/fine-tunes/estimate-price", json={**body, "from_hf_model": None})
    ).json()
    assert without["token_count_method"] == "approximate"


async def test_dpo_job_on_preference_data(
    client: httpx2.AsyncClient, tiny_model: Path, tmp_path: Path
) -> None:
    from byom.engine.tiny import write_overfit_dataset

    data = write_overfit_dataset(tmp_path / "prefs.jsonl", n=8, fmt="preference").read_bytes()
    file = await upload(client, data)
    assert file["validation_report"]["dataset_format"] == "PREFERENCE"
    body = job_body(
        file["id"],
        tiny_model,
        n_epochs=1,
        n_checkpoints=1,
        training_method={"method": "dpo", "dpo_beta": 0.2},
    )
    created = await client.post("/v1/fine-tunes", json=body)
    assert created.status_code == 200, created.text
    assert created.json()["training_method"] == {"method": "dpo", "dpo_beta": 0.2}
    done = await wait_job(client, created.json()["id"])
    assert done["status"] == "completed", done
    # Preference data with SFT is refused up front.
    sft = await client.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model))
    assert_together_error(sft, 400, param="training_method")


async def test_a_trainer_killed_from_outside_is_an_error_not_a_stuck_job(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = engine
    file = await upload(client, overfit_bytes)
    body = job_body(file["id"], tiny_model, n_epochs=20, batch_size=1)  # 320 steps: still running when killed
    job = (await client.post("/v1/fine-tunes", json=body)).json()
    running = await wait_job(client, job["id"], statuses=("running",))
    while running["steps_completed"] < 2:
        running = await wait_job(client, job["id"], statuses=("running",))
    pid = state.db.one("SELECT pid FROM jobs WHERE id = ?", (job["id"],))["pid"]
    os.kill(pid, signal.SIGKILL)  # what the kernel's OOM killer does
    done = await wait_job(client, job["id"])
    assert done["status"] == "error"
    assert "killed by signal 9" in done["error"]["message"]
    last = (await client.get(f"/v1/fine-tunes/{job['id']}/events")).json()["data"][-1]
    assert last["type"] == "job_error" and last["level"] == "error"
