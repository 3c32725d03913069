"""The inference request models refuse what generation cannot use: non-finite numbers, seeds torch rejects."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from byom.engine.deploy.inference import ChatRequest, CompletionRequest

MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    "override",
    [
        {"repetition_penalty": float("inf")},
        {"top_p": float("nan")},
        {"temperature": float("nan")},
        {"seed": 2**64},
        {"seed": -(2**63) - 1},
    ],
)
@pytest.mark.parametrize("model", [ChatRequest, CompletionRequest])
def test_sampling_values_generation_cannot_use_are_refused(model: Any, override: dict[str, Any]) -> None:
    body = {"model": "local/chat", "messages": MSG, "prompt": "Hello", **override}
    with pytest.raises(ValidationError) as info:
        model.model_validate(body)
    assert info.value.errors()[0]["loc"] == (next(iter(override)),)


def test_seeds_torch_accepts_are_kept() -> None:
    for seed in (0, 2**64 - 1, -(2**63)):
        assert ChatRequest.model_validate({"model": "m", "messages": MSG, "seed": seed}).seed == seed
