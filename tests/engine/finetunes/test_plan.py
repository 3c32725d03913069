"""Planning a fine-tune against the custom model itself: its context, its tokenizer, the training stack."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.engine.finetunes import plan
from byom.engine.state import EngineState
from byom.engine.trainer import context_length
from byom.engine.trainer._tokenize import IGNORE, Example, pack
from support.engine import TEMPLATE, assert_together_error, job_body, upload

pytestmark = pytest.mark.anyio

CONVERSATION = (
    b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 4
)
TEXT = b'{"text": "The sky is blue on a clear day."}\n' * 4


def _variant(src: Path, dest: Path, *, drop: tuple[str, ...] = (), **config: Any) -> Path:
    """A copy of the tiny model without some files and with some config.json values changed."""
    shutil.copytree(src, dest)
    for name in drop:
        (dest / name).unlink()
    if config:
        data = json.loads((dest / "config.json").read_text())
        (dest / "config.json").write_text(json.dumps({**data, **config}))
    return dest


@pytest.fixture(scope="module")
def model_512(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _variant(tiny_model, tmp_path_factory.mktemp("ctx") / "tiny-512", max_position_embeddings=512)


def _sdk_default_body(training_file: str, model_dir: Path) -> dict[str, Any]:
    """What a client sends when the user sets only the file and the model (the SDK defaults)."""
    return {
        "training_file": training_file,
        "model": TEMPLATE,
        "from_hf_model": str(model_dir),
        "n_epochs": 1,
        "n_checkpoints": 1,
        "n_evals": 0,
        "batch_size": "max",
        "learning_rate": 1e-5,
        "lr_scheduler": {
            "lr_scheduler_type": "cosine",
            "lr_scheduler_args": {"min_lr_ratio": 0.0, "num_cycles": 0.5},
        },
        "warmup_ratio": 0.0,
        "max_grad_norm": 1.0,
        "weight_decay": 0.0,
        "packing": True,
        "max_seq_length": 2048,
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0},
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
    }


# ---- the model's context --------------------------------------------------------------------------
async def test_the_default_max_seq_length_is_capped_at_the_models_context(
    engine: tuple[httpx2.AsyncClient, EngineState], model_512: Path, overfit_bytes: bytes
) -> None:
    client, state = engine
    file = await upload(client, overfit_bytes)
    r = await client.post("/v1/fine-tunes", json=_sdk_default_body(file["id"], model_512))
    assert r.status_code == 200, r.text
    job = r.json()
    await client.post(f"/v1/fine-tunes/{job['id']}/cancel")  # only the plan matters here
    assert job["max_seq_length"] == 512
    row = state.db.one("SELECT spec FROM jobs WHERE id = ?", (job["id"],))
    assert row is not None
    spec = json.loads(row["spec"])
    assert spec["max_seq_length"] == 512 and spec["packing"] is True
    events = (await client.get(f"/v1/fine-tunes/{job['id']}/events")).json()["data"]
    assert any(
        e["message"] == "max_seq_length 2048 is over this model's context (512); training at 512."
        for e in events
    ), events


@pytest.mark.parametrize("value", [4096, 1024])
async def test_an_explicit_max_seq_length_over_the_context_is_refused(
    client: httpx2.AsyncClient, model_512: Path, value: int
) -> None:
    file = await upload(client, CONVERSATION)
    r = await client.post("/v1/fine-tunes", json=job_body(file["id"], model_512, max_seq_length=value))
    message = assert_together_error(r, 400, param="max_seq_length")["error"]["message"]
    assert "≤ 512" in message
    assert (await client.get("/v1/fine-tunes")).json()["data"] == []


def test_packing_never_exceeds_max_seq_length() -> None:
    examples = [Example(list(range(n)), list(range(n))) for n in (300, 200, 700, 100, 512)]
    blocks = pack(examples, 512)
    assert all(len(b.input_ids) <= 512 and len(b.labels) == len(b.input_ids) for b in blocks)
    assert all(max(b.starts) < len(b.input_ids) for b in blocks)
    # Every example is still there (the over-long one truncated), and none was split between blocks.
    assert sum(len(b.starts) for b in blocks) == len(examples)
    assert [b.labels[s] for b in blocks for s in b.starts[1:]] == [IGNORE] * (len(examples) - len(blocks))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"max_position_embeddings": 512, "sliding_window": 128}, 512),
        ({"n_positions": 1024}, 1024),
        ({"max_sequence_length": 4096}, 4096),
        ({"seq_length": 8192}, 8192),
        ({"model_type": "gemma3", "text_config": {"max_position_embeddings": 131072}}, 131072),
        ({"sliding_window": 4096}, None),
        ({"max_position_embeddings": None}, None),
        ({"max_position_embeddings": True}, None),
    ],
)
def test_context_length_from_config(config: dict[str, Any], expected: int | None) -> None:
    assert context_length(config) == expected


# ---- the tokenizer of a local model directory --------------------------------------------------------
async def test_a_model_directory_without_tokenizer_files_is_refused(
    client: httpx2.AsyncClient, tiny_model: Path, tmp_path: Path
) -> None:
    bare = _variant(tiny_model, tmp_path / "no-tokenizer", drop=("tokenizer.json",))
    file = await upload(client, TEXT)
    r = await client.post("/v1/fine-tunes", json=job_body(file["id"], bare))
    message = assert_together_error(r, 400, param="from_hf_model")["error"]["message"]
    assert str(bare) in message and "save_pretrained" in message
    assert (await client.get("/v1/fine-tunes")).json()["data"] == []


async def test_conversation_data_on_a_tokenizer_without_chat_template_is_refused(
    client: httpx2.AsyncClient, tiny_model: Path, tmp_path: Path
) -> None:
    plain = _variant(tiny_model, tmp_path / "no-template", drop=("chat_template.jinja",))
    assert "chat_template" not in json.loads((plain / "tokenizer_config.json").read_text())
    file = await upload(client, CONVERSATION)
    r = await client.post("/v1/fine-tunes", json=job_body(file["id"], plain))
    message = assert_together_error(r, 400, param="from_hf_model")["error"]["message"]
    assert "chat template" in message and str(plain) in message and "save_pretrained" in message
    assert (await client.get("/v1/fine-tunes")).json()["data"] == []


def test_tokenizer_problem_accepts_each_tokenizer_kind(tmp_path: Path) -> None:
    for files in (["tokenizer.json"], ["tokenizer.model"], ["vocab.json", "merges.txt"], ["vocab.txt"]):
        d = tmp_path / files[0]
        d.mkdir()
        for name in files:
            (d / name).write_text("x")
        assert plan._tokenizer_problem(d) is None
        assert plan._tokenizer_problem(d, chat=True) is not None
        (d / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
        assert plan._tokenizer_problem(d, chat=True) is None
    only_vocab = tmp_path / "half"
    only_vocab.mkdir()
    (only_vocab / "vocab.json").write_text("{}")
    assert plan._tokenizer_problem(only_vocab) is not None  # BPE needs merges.txt too


# ---- the training stack ----------------------------------------------------------------------------
async def test_a_job_is_refused_when_the_training_stack_is_not_installed(
    client: httpx2.AsyncClient, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = await upload(client, CONVERSATION)
    monkeypatch.setattr(plan, "training_stack_missing", lambda: ("transformers", "peft"))
    r = await client.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model))
    error = assert_together_error(r, 400)["error"]
    assert error["code"] == "training_stack_missing"
    assert 'pip install "byom-mcp[local]"' in error["message"] and "transformers, peft" in error["message"]
    assert (await client.get("/v1/fine-tunes")).json()["data"] == []


def test_the_training_stack_is_found_here() -> None:
    # The tests run with the local extra installed: the real check must agree.
    assert plan.training_stack_missing() == ()
