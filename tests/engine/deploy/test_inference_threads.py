"""Generation has its own worker threads: chat requests that hold them all leave the other routes running."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anyio.to_thread

from byom.engine.deploy.host import LoadedModel
from support.engine import (
    TEMPLATE,
    engine_client,
    register_tiny,
    serve,
    wait_file_sync,
)

GOOD = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 4
CHATS = 2  # as many as the default thread limiter is given below, and no more than a model's own limiter


def _in_thread(results: list[Any], call: Any) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    return thread


def test_blocked_generations_leave_estimate_price_its_threads(
    tmp_path: Path, tiny_model: Path, monkeypatch: Any
) -> None:
    with engine_client(tmp_path / "engine") as (state, client):
        model = register_tiny(state, tiny_model)
        serve(client, model.id)
        file_id = client.post(
            "/v1/files/upload", files={"file": ("t.jsonl", GOOD)}, data={"purpose": "fine-tune"}
        ).json()["id"]
        wait_file_sync(client, file_id)

        entered = threading.Semaphore(0)
        release = threading.Event()
        generate = LoadedModel.generate

        def held_generate(self: LoadedModel, ids: list[int], params: Any, *rest: Any) -> Any:
            entered.release()
            release.wait(120)
            return generate(self, ids, params, *rest)

        monkeypatch.setattr(LoadedModel, "generate", held_generate)

        async def few_default_threads() -> None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = CHATS

        client.portal.call(few_default_threads)
        chat = {"model": "local/chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        chats: list[Any] = []
        threads = [
            _in_thread(chats, lambda: client.post("/v1/chat/completions", json=chat).status_code)
            for _ in range(CHATS)
        ]
        try:
            for _ in range(CHATS):
                assert entered.acquire(timeout=60), "a chat request never reached generation"
            # Every chat now sits in generation. estimate-price counts tokens in a worker thread of the
            # default limiter: it must get one, though the generations hold as many threads as it has.
            estimates: list[Any] = []
            body = {"training_file": file_id, "model": TEMPLATE}
            estimate = _in_thread(estimates, lambda: client.post("/v1/fine-tunes/estimate-price", json=body))
            estimate.join(60)
            assert not estimate.is_alive(), "estimate-price starved behind generation"
            assert estimates[0].status_code == 200, estimates[0].text
            assert estimates[0].json()["estimation_available"] is True
        finally:
            release.set()
            for thread in threads:
                thread.join(120)
        assert chats == [200] * CHATS
