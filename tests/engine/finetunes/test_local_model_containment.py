"""The engine and a model directory whose file leads out of it (issue #14, finding 3).

The directory sits inside the engine's allowed roots; the secret it links to sits outside every one. Preview,
estimate-price and create each answer a Together-shaped 400 in the same words (the link and where it points),
and the secret never appears in an answer. A link to /proc/self/environ and a FIFO are refused the same way;
a link inside the directory and a Hugging Face cache snapshot still preview.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from support.engine import HANG_S, assert_together_error, job_body, upload
from support.model_dirs import (
    CANARY,
    LOADER_FILES,
    as_hub_snapshot,
    model_copy,
    replace_with_link,
    secret_file,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def outside() -> Iterator[Path]:
    """A folder outside every allowed root of the test engine (its roots are pytest's temp folders)."""
    with tempfile.TemporaryDirectory(prefix="byom-outside-") as tmp:
        yield Path(tmp)


async def _answers(client: httpx2.AsyncClient, model: Path, file_id: str) -> list[httpx2.Response]:
    """Preview, estimate-price and create for ``model``, each bounded (a FIFO read would block)."""
    with anyio.fail_after(HANG_S):
        return [
            await client.post("/v1/fine-tunes/preview", json={"model": str(model), "training_file": file_id}),
            await client.post(
                "/v1/fine-tunes/estimate-price",
                json={"training_file": file_id, "model": "Qwen/Qwen3-0.6B", "from_hf_model": str(model)},
            ),
            await client.post("/v1/fine-tunes", json=job_body(file_id, model)),
        ]


@pytest.mark.parametrize("name", LOADER_FILES)
async def test_preview_estimate_and_create_refuse_a_loader_file_linked_out(
    client: httpx2.AsyncClient,
    tiny_model: Path,
    overfit_bytes: bytes,
    tmp_path: Path,
    outside: Path,
    name: str,
) -> None:
    secret = secret_file(outside)
    model = model_copy(tiny_model, tmp_path / "model")
    replace_with_link(model, name, secret)
    file_id = (await upload(client, overfit_bytes))["id"]
    words = (
        f"{name} in the model directory {model} is a symbolic link to {secret}, outside the model directory"
    )
    for response in await _answers(client, model, file_id):
        body = assert_together_error(response, 400)
        assert words in body["error"]["message"], body
        assert CANARY not in response.text


async def test_a_link_to_proc_self_environ_is_refused(
    client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes, tmp_path: Path
) -> None:
    model = model_copy(tiny_model, tmp_path / "model")
    replace_with_link(model, "chat_template.jinja", "/proc/self/environ")
    file_id = (await upload(client, overfit_bytes))["id"]
    for response in await _answers(client, model, file_id):
        message = assert_together_error(response, 400)["error"]["message"]
        assert f"chat_template.jinja in the model directory {model} leads to /proc/" in message
        assert f"PATH={os.environ['PATH']}" not in response.text


async def test_a_fifo_is_refused_without_hanging(
    client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes, tmp_path: Path
) -> None:
    model = model_copy(tiny_model, tmp_path / "model")
    (model / "tokenizer.json").unlink()
    os.mkfifo(model / "tokenizer.json")
    file_id = (await upload(client, overfit_bytes))["id"]
    for response in await _answers(client, model, file_id):
        message = assert_together_error(response, 400)["error"]["message"]
        assert "tokenizer.json in the model directory" in message and "is a FIFO (named pipe)" in message


@pytest.mark.parametrize("layout", ["inside_link", "hub_snapshot"])
async def test_links_that_stay_inside_still_preview(
    client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes, tmp_path: Path, layout: str
) -> None:
    if layout == "hub_snapshot":
        model = as_hub_snapshot(tiny_model, tmp_path / "hub")
    else:
        model = model_copy(tiny_model, tmp_path / "model")
        (model / "tokenizer.json").rename(model / "tokenizer.real.json")
        replace_with_link(model, "tokenizer.json", "tokenizer.real.json")
    file_id = (await upload(client, overfit_bytes))["id"]
    r = await client.post(
        "/v1/fine-tunes/preview", json={"model": str(model), "training_file": file_id, "top_k": 1}
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows"][0]["num_trained_tokens"] > 0
    r = await client.post(
        "/v1/fine-tunes/estimate-price",
        json={"training_file": file_id, "model": "Qwen/Qwen3-0.6B", "from_hf_model": str(model)},
    )
    assert r.status_code == 200 and r.json()["token_count_method"] == "tokenizer", r.text
