"""The fine-tune routes never answer 500 to what a client sends, and a bad row never breaks the job list."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx2
import pytest

from byom.engine.state import EngineState
from support.engine import AUTH, BASE_URL, assert_together_error, job_body, upload
from support.faults import engine_jobs, queued_engine

pytestmark = pytest.mark.anyio

CONVERSATION = (
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 4
)

# (route, raw JSON members appended to a valid body, the param the 400 names or None). Appended members
# win over the body's own (the last duplicate key wins), and raw text can hold what json.dumps cannot:
# 1e999 (parses to inf), NaN, \u0000, lone surrogates. {models} is the directory the tiny model lives in.
HOSTILE: list[tuple[str, str, str | None]] = [
    ("create", '"from_hf_model": "~nosuchuser/x"', "from_hf_model"),
    ("create", '"from_hf_model": "{models}/model\\u0000x"', "from_hf_model"),
    ("create", '"from_hf_model": "{models}/' + "a" * 300 + '"', "from_hf_model"),
    ("create", '"max_grad_norm": 1e999', "max_grad_norm"),
    ("create", '"weight_decay": 1e999', "weight_decay"),
    ("create", '"weight_decay": -1e999', "weight_decay"),
    ("create", '"max_grad_norm": Infinity', None),
    ("create", '"warmup_ratio": NaN', None),
    (
        "create",
        '"training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 1e999}',
        "training_type.lora_alpha",
    ),
    (
        "create",
        '"training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 100000}',
        "training_type.lora_alpha",
    ),
    ("create", '"training_type": {"type": "Lora", "lora_r": 1180591620717411303424}', "training_type.lora_r"),
    ("create", '"random_seed": 1180591620717411303424', "random_seed"),
    ("create", '"random_seed": 4294967296', "random_seed"),
    ("create", '"random_seed": -1', "random_seed"),
    (
        "create",
        '"lr_scheduler": {"lr_scheduler_type": "cosine", "lr_scheduler_args": {"num_cycles": 1e999}}',
        None,
    ),
    ("create", '"suffix": "x\\ud800"', None),
    ("estimate", '"from_hf_model": "~nosuchuser/x"', "from_hf_model"),
    ("estimate", '"from_hf_model": "{models}/model\\u0000x"', "from_hf_model"),
    ("estimate", '"n_epochs": 1' + "0" * 400, "n_epochs"),
    ("estimate", '"training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 1e999}', None),
]
ROUTES = {"create": "/v1/fine-tunes", "estimate": "/v1/fine-tunes/estimate-price"}


@pytest.mark.parametrize(
    ("route", "members", "param"), HOSTILE, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(HOSTILE)]
)
async def test_hostile_bodies_are_400s_and_store_nothing(
    client: httpx2.AsyncClient, tiny_model: Path, route: str, members: str, param: str | None
) -> None:
    file = await upload(client, CONVERSATION)
    valid = json.dumps(job_body(file["id"], tiny_model))
    raw = valid[:-1] + ", " + members.replace("{models}", str(tiny_model.parent)) + "}"
    r = await client.post(ROUTES[route], content=raw.encode(), headers={"Content-Type": "application/json"})
    assert_together_error(r, 400, param=param)
    listed = await client.get("/v1/fine-tunes")
    assert listed.status_code == 200 and listed.json()["data"] == []


async def test_a_row_that_cannot_be_rendered_does_not_break_the_list(
    engine: tuple[httpx2.AsyncClient, EngineState],
) -> None:
    client, state = engine
    now = time.time()
    # What an engine before the fix stored for max_grad_norm=1e999, and a row whose JSON is torn.
    for job_id, request, spec in (
        ("ft-poisoned", '{"model": "m", "max_grad_norm": Infinity}', '{"training_type": "lora"}'),
        ("ft-torn", '{"model": ', "not json"),
    ):
        state.db.execute(
            "INSERT INTO jobs (id, status, created_at, updated_at, queue_seq, request, spec, model_output_name,"
            " training_file) VALUES (?, 'completed', ?, ?, 1, ?, ?, 'local/x', 'file-x')",
            (job_id, now, now, request, spec),
        )
    listed = await client.get("/v1/fine-tunes")
    assert listed.status_code == 200, listed.text
    jobs = {j["id"]: j for j in listed.json()["data"]}
    assert set(jobs) == {"ft-poisoned", "ft-torn"}
    assert all(j["status"] == "completed" and j["created_at"] for j in jobs.values())
    for job_id in jobs:
        one = await client.get(f"/v1/fine-tunes/{job_id}")
        assert one.status_code == 200 and one.json()["id"] == job_id, one.text


async def test_estimate_falls_back_to_the_approximate_count_when_the_tokenizer_will_not_load(
    client: httpx2.AsyncClient, tiny_model: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken-tokenizer"
    shutil.copytree(tiny_model, broken)
    (broken / "tokenizer.json").write_text("this is not a tokenizer")
    file = await upload(client, CONVERSATION)
    r = await client.post(
        "/v1/fine-tunes/estimate-price", json={"training_file": file["id"], "from_hf_model": str(broken)}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["estimation_available"] is True and body["estimated_train_token_count"] > 0
    assert body["token_count_method"] == "approximate" and "approximate" in body["token_count_note"]


async def test_a_full_queue_is_a_429_that_says_how_many_wait_and_what_to_do(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> None:
    # The runner is not started: every job created stays queued.
    with queued_engine(tmp_path, tmp_path_factory.getbasetemp()) as (transport, state):
        state.settings = state.settings.model_copy(update={"engine_max_queued": 2})
        async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as client:
            file = await upload(client, CONVERSATION)
            body = job_body(file["id"], tiny_model)
            queued = [(await client.post("/v1/fine-tunes", json=body)).json()["id"] for _ in range(2)]
            full = await client.post("/v1/fine-tunes", json=body)
            error = assert_together_error(full, 429)["error"]
            assert error["code"] == "queue_full" and full.headers["x-should-retry"] == "false"
            assert (
                "it holds 2 fine-tune jobs waiting to start, its cap (BYOM_ENGINE_MAX_QUEUED=2)"
                in error["message"]
            )
            assert "not created. Cancel queued jobs" in error["message"]
            assert engine_jobs(state) == queued
            # A cancelled job leaves the queue, and its place takes the next create.
            assert (await client.post(f"/v1/fine-tunes/{queued[0]}/cancel")).status_code == 200
            assert (await client.post("/v1/fine-tunes", json=body)).status_code == 200
