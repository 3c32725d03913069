"""Concurrent generations of one loaded model run as one batch, and each caller gets the answer it gets alone.

A test holds the model's lock (as a running generation or an adapter load does), lets requests queue behind it,
waits until the batcher holds them all, and lets go: what queued is one ``model.generate`` per compatible group.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from byom.cli import main
from byom.engine.deploy.batching import Batcher, Batching
from byom.engine.deploy.generate import run_generation
from byom.engine.deploy.host import AdapterGone, Generation, LoadedModel, LoadSpec, SamplingParams
from byom.engine.deploy.runtime import Target
from byom.errors import EngineError, NotFound
from support.engine import (
    engine_client,
    make_adapter,
    make_state,
    register_tiny,
    serve,
)
from support.poll import HANG_S, until_sync

# Prompts of different lengths (left padding matters) whose greedy answers on the tiny model end differently:
# at EOS after a few tokens, at EOS at once (an empty answer), and at max_tokens.
PROMPTS = ["Bees make", "What is the capital of France?", "Hi", "How many legs does a spider have? Tell me."]


def _greedy(max_tokens: int = 24, stop: list[str] | None = None) -> SamplingParams:
    return SamplingParams(max_tokens=max_tokens, temperature=0, stop=stop or [])


@pytest.fixture
def model(tiny_model: Path) -> LoadedModel:
    return LoadedModel(LoadSpec(path=str(tiny_model)), Batching(max_size=8, window_s=0))


class _Calls:
    """Calls started in threads, each queued behind the model's lock before the next starts (FIFO order)."""

    def __init__(self, batcher: Batcher[Any, Any]) -> None:
        self.batcher = batcher
        self.results: dict[int, Any] = {}
        self.threads: list[threading.Thread] = []
        self.outcomes: list[Any] = []  # each call's return value or exception, in order, once joined

    def start(self, call: Callable[[], Any]) -> None:
        index = len(self.threads)

        def work() -> None:
            try:
                self.results[index] = call()
            except BaseException as exc:  # noqa: BLE001 - the test reads it
                self.results[index] = exc

        self.threads.append(threading.Thread(target=work, daemon=True))
        self.threads[-1].start()
        until_sync(lambda: self.batcher.queued() == index + 1, f"request {index} to queue")

    def join(self) -> None:
        for thread in self.threads:
            thread.join(HANG_S)
        assert not any(t.is_alive() for t in self.threads), "a request hangs"
        # An answer delivered early returns before its batch ends: the batch is counted once it has.
        assert self.batcher.wait_idle(HANG_S), "the batch thread hangs"
        self.outcomes = [self.results[i] for i in range(len(self.threads))]


def _sizes(model: LoadedModel) -> Counter[int]:
    """The sizes of the batches the model has run, once the last one has been counted."""
    assert model.batcher.wait_idle(HANG_S), "the batch thread hangs"
    return model.batcher.sizes.copy()


@contextmanager
def queued(model: LoadedModel) -> Iterator[_Calls]:
    """Calls queue while the model's lock is held; on exit the lock is let go and every call's outcome is in."""
    calls = _Calls(model.batcher)
    with model.lock:
        yield calls
    calls.join()


def test_an_answer_ready_early_goes_back_while_its_batch_runs_on() -> None:
    lock = threading.Lock()
    returned = threading.Event()

    def run(items: list[str], deliver: Callable[[int, str], None]) -> list[str]:
        deliver(0, "short answer")  # its row ended; the longer one goes on
        assert returned.wait(HANG_S), "the early answer was held back until the batch ended"
        return ["ignored: delivered already", "long answer"]

    batcher: Batcher[str, str] = Batcher(run, lock, Batching(max_size=2, window_s=0))
    calls = _Calls(batcher)
    with lock:

        def short() -> str:
            answer = batcher.submit("short", "key")
            returned.set()
            return answer

        calls.start(short)
        calls.start(lambda: batcher.submit("long", "key"))
    calls.join()
    assert calls.outcomes == ["short answer", "long answer"] and batcher.sizes == {2: 1}


def test_concurrent_greedy_requests_run_as_one_batch_with_the_answers_they_get_alone(
    model: LoadedModel,
) -> None:
    ids = [model.encode_text(p) for p in PROMPTS]
    long_answer = model.generate(ids[3], _greedy()).text
    stop = re.search(r"[A-Za-z]{3}", long_answer[5:])
    assert stop, long_answer
    params = [_greedy(), _greedy(), _greedy(max_tokens=5), _greedy(stop=[stop.group()])]
    alone = [model.generate(i, p) for i, p in zip(ids, params, strict=True)]
    # The cases this test is about: EOS after some tokens, EOS at once, the own token limit, the own stop string.
    assert alone[0].finish_reason == "stop" and 1 < alone[0].completion_tokens < 24
    assert alone[1] == Generation("", len(ids[1]), 1, "stop")
    assert alone[2].finish_reason == "length" and alone[2].completion_tokens == 5
    assert alone[3].finish_reason == "stop" and alone[3].completion_tokens < 24
    assert not alone[3].text.endswith(stop.group()) and alone[3].text in long_answer
    before = _sizes(model)

    with queued(model) as calls:
        for i, p in zip(ids, params, strict=True):
            calls.start(lambda i=i, p=p: model.generate(i, p))
    assert calls.outcomes == alone
    assert model.batcher.sizes - before == {4: 1}


def test_only_compatible_requests_share_a_batch(tmp_path: Path, tiny_model: Path, model: LoadedModel) -> None:
    model.load_adapter("one", str(make_adapter(tiny_model, tmp_path / "one", active=True)))
    ids = [model.encode_text(p) for p in PROMPTS]
    seeded = SamplingParams(max_tokens=8, temperature=0.9, seed=7)
    sampled = SamplingParams(max_tokens=8, temperature=0.9)
    requests: list[tuple[list[int], SamplingParams, str | None]] = [
        (ids[0], _greedy(), None),
        (ids[0], _greedy(), "one"),  # another adapter: another batch
        (ids[2], _greedy(max_tokens=6), None),  # joins the first
        (ids[3], seeded, None),  # a seed's answer must not depend on batch-mates: alone
        (ids[2], sampled, None),
        (ids[3], sampled, None),  # same sampling settings: together
        (ids[3], SamplingParams(max_tokens=8, temperature=0.5), None),  # another temperature: alone
    ]
    alone = [model.generate(i, p, a) for i, p, a in requests[:4]]
    assert alone[0] != alone[1]  # the adapter changes the answer, so a mixed batch would show
    before = _sizes(model)

    with queued(model) as calls:
        for i, p, a in requests:
            calls.start(lambda i=i, p=p, a=a: model.generate(i, p, a))
    results = calls.outcomes
    assert results[:4] == alone
    assert all(isinstance(r, Generation) and r.completion_tokens <= 8 for r in results[4:])
    assert model.batcher.sizes - before == {2: 2, 1: 3}


def test_max_batch_size_one_generates_one_at_a_time(tiny_model: Path) -> None:
    model = LoadedModel(LoadSpec(path=str(tiny_model)), Batching(max_size=1))
    ids = model.encode_text(PROMPTS[0])
    with queued(model) as calls:
        for _ in range(3):
            calls.start(lambda: model.generate(ids, _greedy(max_tokens=4)))
    assert isinstance(calls.outcomes[0], Generation) and calls.outcomes == [calls.outcomes[0]] * 3
    assert model.batcher.sizes == {1: 3}


def _target(model: LoadedModel, adapter: str | None = None) -> Target:
    return Target(None, None, model, adapter=adapter)


def test_a_failing_batch_tells_each_of_its_requests_and_the_model_serves_on(model: LoadedModel) -> None:
    ids = model.encode_text(PROMPTS[0])
    # transformers refuses a negative top_k when it generates (the HTTP routes refuse it earlier): a real failure.
    broken = SamplingParams(max_tokens=4, temperature=0.7, top_k=-1)
    with queued(model) as calls:
        calls.start(lambda: run_generation(_target(model), ids, broken))
        calls.start(lambda: run_generation(_target(model), ids, _greedy(max_tokens=4)))
        calls.start(lambda: run_generation(_target(model), ids, broken))
    failed_a, good, failed_b = calls.outcomes
    for failed in (failed_a, failed_b):
        assert isinstance(failed, EngineError) and failed.error_type == "server_error"
        assert str(failed).startswith("Generation failed: ") and "top_k" in str(failed)
        assert "\n" not in str(failed)
    assert good == model.generate(ids, _greedy(max_tokens=4))


def test_an_adapter_detached_while_its_batch_waited_is_not_found_for_each_request(
    tmp_path: Path, tiny_model: Path, model: LoadedModel
) -> None:
    model.load_adapter("one", str(make_adapter(tiny_model, tmp_path / "one", active=True)))
    ids = model.encode_text(PROMPTS[0])
    with queued(model) as calls:
        for _ in range(2):
            calls.start(lambda: run_generation(_target(model, "one"), ids, _greedy(max_tokens=4)))
        calls.start(lambda: run_generation(_target(model), ids, _greedy(max_tokens=4)))
        model._remove("one")  # what unload_adapter does once it holds the lock, as this test does
    first, second, base = calls.outcomes
    for gone in (first, second):
        assert isinstance(gone, NotFound) and gone.code == "model_not_available"
    assert isinstance(base, Generation)
    with pytest.raises(AdapterGone):
        model.generate(ids, _greedy(), "one")


def test_concurrent_chat_requests_over_http_are_batched_with_their_own_answers(
    tmp_path: Path, tiny_model: Path
) -> None:
    with engine_client(tmp_path / "engine") as (state, client):
        registered = register_tiny(state, tiny_model)
        _, dep = serve(client, registered.id)
        loaded = state.deploy.loaded(dep["id"])
        assert loaded is not None
        bodies = [
            {
                "model": "local/chat",
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": 3 + 4 * n,
                "temperature": 0,
            }
            for n, prompt in enumerate(PROMPTS)
        ]
        bodies.append({**bodies[0], "stop": ["a"]})
        alone = [client.post("/v1/chat/completions", json=b).json() for b in bodies]
        before = _sizes(loaded)
        with queued(loaded) as calls:
            for body in bodies:
                calls.start(lambda body=body: client.post("/v1/chat/completions", json=body).json())
        together = calls.outcomes
        assert loaded.batcher.sizes - before == {len(bodies): 1}
        for one, batched in zip(alone, together, strict=True):
            assert batched["choices"] == one["choices"] and batched["usage"] == one["usage"]


def test_the_engine_takes_its_batching_from_its_config_and_refuses_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = make_state(tmp_path, max_batch_size=1, batch_window_s=0)
    try:
        assert state.deploy.pool.batching == Batching(max_size=1, window_s=0)
    finally:
        state.close()
    for flag, value, told in [
        ("--max-batch-size", "0", "a whole number of at least 1"),
        ("--batch-window-ms", "-1", "a number of at least 0"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            main(["engine", flag, value])
        assert exit_.value.code == 2 and told in capsys.readouterr().err
