"""Attached adapters on one loaded model (``LoadedModel``): each generation runs with its own adapter choice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from byom.engine.deploy.host import AdapterGone, LoadedModel, LoadSpec, SamplingParams
from support.engine import make_adapter

GREEDY = SamplingParams(max_tokens=6, temperature=0)


def test_base_and_adapter_generations_interleave_safely(tmp_path: Path, tiny_model: Path) -> None:
    model = LoadedModel(LoadSpec(path=str(tiny_model)))
    ids = model.encode_text("Bees make")
    base = model.generate(ids, GREEDY).text
    model.load_adapter("one", str(make_adapter(tiny_model, tmp_path / "one", active=True)))
    lora = model.generate(ids, GREEDY, "one").text
    assert lora != base and model.generate(ids, GREEDY).text == base

    # Base and adapter requests from two threads at once: the model lock covers each generation and its adapter
    # choice, so every answer is what it is alone (a leaked set_adapter would turn a base answer into ``lora``).
    seen: dict[str | None, set[str]] = {None: set(), "one": set()}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def worker(adapter: str | None) -> None:
        try:
            start.wait(60)
            for _ in range(6):
                seen[adapter].add(model.generate(ids, GREEDY, adapter).text)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a,)) for a in (None, "one")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    assert not errors and seen == {None: {base}, "one": {lora}}

    model.unload_adapter("one")
    with pytest.raises(AdapterGone):
        model.generate(ids, GREEDY, "one")
    assert model.adapters == set() and model.generate(ids, GREEDY).text == base


def test_a_failed_adapter_load_leaves_the_base_untouched(tmp_path: Path, tiny_model: Path) -> None:
    model = LoadedModel(LoadSpec(path=str(tiny_model)))
    ids = model.encode_text("Bees make")
    base = model.generate(ids, GREEDY).text
    good = make_adapter(tiny_model, tmp_path / "good", active=True)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "adapter_config.json").write_text((good / "adapter_config.json").read_text())  # no weights
    with pytest.raises(Exception):  # noqa: B017 - whatever PEFT raises; the state after is the point
        model.load_adapter("broken", str(broken))
    assert model.adapters == set() and model.generate(ids, GREEDY).text == base
