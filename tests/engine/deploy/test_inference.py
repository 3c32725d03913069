"""Inference on a deployed tiny model: chat and text completions, streaming, routing errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support.engine import PID, P, deploy, engine_client, register_tiny, serve, wait_state


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path):
    with engine_client(tmp_path_factory.mktemp("engine")) as (state, client):
        model = register_tiny(state, tiny_model)
        serve(client, model.id)
        # The same weights without a chat template: chat must say so, text completions still work.
        plain_dir = tmp_path_factory.mktemp("plain") / "tiny-plain"
        shutil.copytree(tiny_model, plain_dir)
        (plain_dir / "chat_template.jinja").unlink()
        plain = register_tiny(state, plain_dir, name="tiny-plain")
        ep2 = client.post(f"{P}/endpoints", json={"name": "plain"}).json()
        dep2 = deploy(client, ep2["id"], plain.id)
        wait_state(client, ep2["id"], dep2["id"], "DEPLOYMENT_STATE_READY")
        yield client


def _events(response) -> list:
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


MSG = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is the capital of France?"},
]


def test_chat_completion_shape_and_determinism(served) -> None:
    body = {"model": "local/chat", "messages": MSG, "max_tokens": 8, "temperature": 0}
    first = served.post("/v1/chat/completions", json=body).json()
    assert first["object"] == "chat.completion" and first["model"] == "local/chat"
    assert first["id"].startswith("chatcmpl-") and isinstance(first["created"], int)
    choice = first["choices"][0]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in ("stop", "length")
    usage = first["usage"]
    assert (
        usage["prompt_tokens"] > 0
        and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    )
    assert usage["completion_tokens"] <= 8
    again = served.post("/v1/chat/completions", json=body).json()
    assert (
        again["choices"][0]["message"]["content"] == choice["message"]["content"]
    )  # greedy is deterministic


def test_sampling_with_a_seed_repeats(served) -> None:
    body = {
        "model": "local/chat",
        "messages": MSG,
        "max_tokens": 8,
        "temperature": 1.0,
        "top_p": 0.9,
        "top_k": 20,
        "seed": 7,
        "repetition_penalty": 1.1,
    }
    a = served.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    b = served.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    assert a == b


def test_max_tokens_gives_length(served) -> None:
    body = {"model": "local/chat", "messages": MSG, "max_tokens": 1, "temperature": 0}
    out = served.post("/v1/chat/completions", json=body).json()
    assert out["usage"]["completion_tokens"] == 1
    assert out["choices"][0]["finish_reason"] in ("length", "stop")


def test_stop_string_cuts_the_text(served) -> None:
    body = {"model": "local/chat", "messages": MSG, "max_tokens": 12, "temperature": 0}
    full = served.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    if len(full) < 3:
        pytest.skip("the random tiny model produced too little text to cut")
    stop = full[2:4]
    cut = served.post("/v1/chat/completions", json={**body, "stop": [stop]}).json()["choices"][0]
    assert stop not in cut["message"]["content"] and cut["finish_reason"] == "stop"
    assert full.startswith(cut["message"]["content"])


def test_streaming_chat_matches_the_plain_answer(served) -> None:
    body = {"model": "local/chat", "messages": MSG, "max_tokens": 10, "temperature": 0}
    plain = served.post("/v1/chat/completions", json=body).json()
    with served.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        response.read()
    chunks = _events(response)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]
    assert chunks[-1]["usage"] == plain["usage"]


def test_text_completion_and_stream(served) -> None:
    body = {"model": "local/chat", "prompt": "The sky is", "max_tokens": 6, "temperature": 0}
    out = served.post("/v1/completions", json=body).json()
    assert out["object"] == "text.completion" and "text" in out["choices"][0]
    with served.stream("POST", "/v1/completions", json={**body, "stream": True}) as response:
        response.read()
    chunks = _events(response)
    assert "".join(c["choices"][0]["text"] for c in chunks) == out["choices"][0]["text"]


def test_pinned_deployment_name(served) -> None:
    body = {"model": "local/chat/d1", "messages": MSG, "max_tokens": 2}
    assert served.post("/v1/chat/completions", json=body).json()["model"] == "local/chat/d1"


def test_unknown_model_is_a_404_with_a_hint(served) -> None:
    response = served.post("/v1/chat/completions", json={"model": "local/nope", "messages": MSG})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_available" and "local/my-ft" in error["message"]
    assert f"/v2/projects/{PID}/endpoints" in error["message"]
    assert (
        served.post("/v1/chat/completions", json={"model": "local/chat/zzz", "messages": MSG}).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "local/chat", "messages": []}, "messages"),
        ({"model": "local/chat", "messages": MSG, "temperature": 5}, "temperature"),
        ({"model": "local/chat", "messages": MSG, "n": 2}, "n"),
        ({"model": "local/chat", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        (
            {"model": "local/chat", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "messages",
        ),
    ],
)
def test_bad_requests_name_the_field(served, body: dict, param: str) -> None:
    response = served.post("/v1/chat/completions", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_a_model_without_chat_template_refuses_chat_but_completes_text(served) -> None:
    response = served.post(
        "/v1/chat/completions", json={"model": "local/plain", "messages": MSG, "max_tokens": 2}
    )
    assert response.status_code == 400
    assert "/v1/completions" in response.json()["error"]["message"]
    text = served.post("/v1/completions", json={"model": "local/plain", "prompt": "Hello", "max_tokens": 2})
    assert text.status_code == 200, text.text


def test_a_prompt_longer_than_the_context_is_refused(served) -> None:
    long = " ".join(["spider"] * 3000)
    response = served.post("/v1/completions", json={"model": "local/chat", "prompt": long, "max_tokens": 2})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


def test_concurrent_loads_keep_weight_tying_working(tmp_path: Path, tiny_model: Path) -> None:
    """transformers swaps PreTrainedModel methods during a load; overlapping loads must not leave them swapped
    (after that, every tied model in the process would serve with an untied, random lm_head)."""
    import threading

    import torch
    import transformers

    from byom.engine.deploy.host import LoadSpec, ModelPool

    original = transformers.PreTrainedModel.tie_weights
    copies = []
    for i in range(4):
        copies.append(tmp_path / f"copy{i}")
        shutil.copytree(tiny_model, copies[-1])
    pool = ModelPool()
    threads = [threading.Thread(target=pool.acquire, args=(LoadSpec(str(d)),)) for d in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pool.loaded()) == 4
    for d in copies:
        pool.release(LoadSpec(str(d)))
    assert transformers.PreTrainedModel.tie_weights is original
    config = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        tie_word_embeddings=True,
    )
    with torch.device("meta"):
        tied = transformers.AutoModelForCausalLM.from_config(config)
    assert tied.lm_head.weight is tied.model.embed_tokens.weight


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/completions"])
def test_a_lone_surrogate_in_the_prompt_is_a_400_not_a_500(served, path: str) -> None:
    text = '"What is \\ud800 this?"'
    if path == "/v1/chat/completions":
        raw = (
            '{"model": "local/chat", "max_tokens": 4, "messages": [{"role": "user", "content": '
            + text
            + "}]}"
        )
    else:
        raw = '{"model": "local/chat", "max_tokens": 4, "prompt": ' + text + "}"
    response = served.post(path, content=raw.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert "surrogate" in response.json()["error"]["message"]
