"""POST /v1/fine-tunes/preview: Together's shapes, what the trainer tokenizes, 400s for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from together.types import FineTunePreviewResponse

from byom.engine.app import create_app
from byom.engine.state import EngineState
from byom.together import FinetunePreview, TogetherClient
from support.engine import BASE_URL, KEY, assert_together_error, upload

pytestmark = pytest.mark.anyio

ROW = {
    "messages": [
        {"role": "user", "content": "What do bees make?"},
        {"role": "assistant", "content": "Honey."},
    ]
}
DATA = ("\n".join(json.dumps(ROW) for _ in range(4)) + "\n").encode()


async def _preview(client: httpx2.AsyncClient, **body: Any) -> httpx2.Response:
    return await client.post("/v1/fine-tunes/preview", json=body)


async def test_preview_rows_are_what_the_trainer_tokenizes(
    client: httpx2.AsyncClient, tiny_model: Path
) -> None:
    from transformers import AutoTokenizer

    from byom.engine.trainer._tokenize import tokenize_row

    file = await upload(client, DATA)
    r = await _preview(client, model=str(tiny_model), training_file=file["id"], top_k=2)
    assert r.status_code == 200, r.text
    body = r.json()
    # The SDK's own model and ours both read it, ours with nothing left over.
    FineTunePreviewResponse.model_validate(body)
    parsed = FinetunePreview.model_validate(body)
    assert not parsed.model_extra and all(not row.model_extra for row in parsed.rows)
    assert body["dataset_format"] == "conversation" and body["train_on_inputs"] is False
    assert body["model"] == str(tiny_model) and body["max_seq_length"] == 1024  # the tiny model's context
    assert len(body["rows"]) == 2
    tok = AutoTokenizer.from_pretrained(tiny_model)
    ex = tokenize_row(tok, ROW, max_seq_length=1024)
    row = body["rows"][0]
    assert row["input_ids"] == ex.input_ids and row["labels"] == ex.labels
    assert row["num_trained_tokens"] == ex.n_label_tokens and not row["truncated"]
    start, end = row["trained_spans"][0]
    assert tok.decode(row["input_ids"][start:end]).startswith("Honey.<|eos|>")
    more = (
        await _preview(client, model=str(tiny_model), training_file=file["id"], train_on_inputs=True)
    ).json()
    assert more["train_on_inputs"] is True and len(more["rows"]) == 4
    assert more["rows"][0]["num_trained_tokens"] > row["num_trained_tokens"]


async def test_a_catalog_base_with_the_custom_models_tokenizer(
    client: httpx2.AsyncClient, tiny_model: Path
) -> None:
    file = await upload(client, DATA)
    r = await _preview(
        client, model="Qwen/Qwen3-0.6B", from_hf_model=str(tiny_model), training_file=file["id"]
    )
    assert r.status_code == 200, r.text
    assert r.json()["model"] == "Qwen/Qwen3-0.6B" and r.json()["max_seq_length"] <= 1024


async def test_bad_input_is_a_together_shaped_400(
    client: httpx2.AsyncClient, tiny_model: Path, tmp_path: Path
) -> None:
    file = await upload(client, DATA)
    model = str(tiny_model)
    assert_together_error(await _preview(client, training_file=file["id"]), 400, "model")
    assert_together_error(
        await _preview(client, model=model, training_file="file-nope"), 400, "training_file"
    )
    assert_together_error(
        await _preview(client, model=model, training_file=file["id"], top_k=0), 400, "top_k"
    )
    assert_together_error(
        await _preview(client, model=model, training_file=file["id"], training_method="dpo"),
        400,
        "training_method",
    )
    assert_together_error(
        await _preview(client, model="nobody/nothing", training_file=file["id"]), 400, "model"
    )
    assert_together_error(await _preview(client, model="/etc", training_file=file["id"]), 400)
    r = await client.post("/v1/fine-tunes/preview", content=b"{not json")
    assert_together_error(r, 400)


async def test_preference_and_invalid_files_are_refused(client: httpx2.AsyncClient, tiny_model: Path) -> None:
    pref = {
        "input": {"messages": [{"role": "user", "content": "hi"}]},
        "preferred_output": [{"role": "assistant", "content": "hello"}],
        "non_preferred_output": [{"role": "assistant", "content": "no"}],
    }
    file = await upload(client, (json.dumps(pref) + "\n").encode())
    assert_together_error(
        await _preview(client, model=str(tiny_model), training_file=file["id"]), 400, "training_file"
    )
    bad = await upload(client, b"{oops\n")
    assert_together_error(
        await _preview(client, model=str(tiny_model), training_file=bad["id"]), 400, "training_file"
    )


async def test_a_model_directory_without_a_chat_template_is_a_400(
    client: httpx2.AsyncClient, tiny_model: Path, tmp_path_factory: Any
) -> None:
    import shutil

    plain = tmp_path_factory.mktemp("plain") / "model"
    shutil.copytree(tiny_model, plain)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    for extra in plain.glob("chat_template.*"):
        extra.unlink()
    file = await upload(client, DATA)
    r = await _preview(client, model=str(plain), training_file=file["id"])
    assert_together_error(r, 400, "model")
    assert "chat template" in r.json()["error"]["message"]


async def test_the_client_method_reads_the_preview(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path
) -> None:
    http, state = engine
    file = await upload(http, DATA)
    transport = httpx2.ASGITransport(app=create_app(state))
    async with TogetherClient(api_key=KEY, base_url=BASE_URL, transport=transport, max_retries=0) as client:
        got = await client.preview_finetune(model=str(tiny_model), training_file=file["id"], top_k=1)
    assert got.dataset_format == "conversation" and len(got.rows) == 1
    assert got.rows[0].num_trained_tokens > 0 and got.rows[0].trained_spans
