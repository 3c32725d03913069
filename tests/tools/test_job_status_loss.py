"""job_status answers "is it learning?": the loss history as numbers, a trend from 2 points on, a judgment
(falling / flat / at chance level / rising), DPO's reward accuracy and margin, and a stage that agrees with the
latest event.

The backend is the real engine (runner not started: the job stays queued). What a training run would report is
Together's answer on the wire (``rewrite_json``): the metrics endpoint's series and the job's fields, the boundary
a Together backend answers on.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.faults import FaultTransport, rewrite_json
from support.tool_calls import call_ok, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def auto(byom_settings: Settings) -> Settings:
    return byom_settings.model_copy(update={"auto_confirm": True})


def _metrics(points: list[dict[str, float]]) -> Any:
    return rewrite_json(lambda body: {"metrics": points})


async def _status(
    settings: Settings,
    faults: FaultTransport,
    tool_args: dict[str, Any],
    *,
    metrics: list[dict[str, float]],
    job: Any = None,
) -> tuple[dict[str, Any], str]:
    async with Client(build_server(settings, transport=faults)) as c:
        job_id = (await call_ok(c, "create_finetune", tool_args))["job_id"]
        faults.inject("GET", f"/v1/fine-tunes/{job_id}/metrics", _metrics(metrics), forever=True)
        if job is not None:
            faults.inject("GET", f"/v1/fine-tunes/{job_id}", rewrite_json(job), forever=True)
        result = await c.call_tool("job_status", {"job_id": job_id})
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        return dict(result.structured_content), text_of(result)


def _train(losses: list[float]) -> list[dict[str, float]]:
    return [{"train/global_step": float(i + 1), "train/loss": v} for i, v in enumerate(losses)]


async def test_a_short_falling_run_has_its_history_a_trend_and_a_judgment(
    auto: Settings, queued: tuple[FaultTransport, EngineState], tool_args: dict[str, Any]
) -> None:
    status, text = await _status(auto, queued[0], tool_args, metrics=_train([3.2, 2.1]))
    loss = status["loss"]
    assert [p["value"] for p in loss["train"]] == [3.2, 2.1]
    assert loss["trend"] == "falling" and loss["judgment"] == "falling"  # 2 points are enough for a trend
    assert status["loss_trend"] == "falling"
    assert "Loss history, step: loss" in text and "1: 3.2, 2: 2.1" in text
    assert "it is learning" in text


async def test_a_long_history_is_downsampled_keeping_first_and_last(
    auto: Settings, queued: tuple[FaultTransport, EngineState], tool_args: dict[str, Any]
) -> None:
    losses = [1.0 + 0.001 * (i % 3) for i in range(200)]
    status, text = await _status(auto, queued[0], tool_args, metrics=_train(losses))
    loss = status["loss"]
    assert len(loss["train"]) == 40 and loss["train_points"] == 200
    assert loss["train"][0]["step"] == 1 and loss["train"][-1]["step"] == 200
    assert loss["judgment"] == "flat" and "stopped improving" in text
    assert "(40 of 200 points)" in text


async def test_a_loss_at_ln_vocab_is_called_chance_level(
    auto: Settings, queued: tuple[FaultTransport, EngineState], tool_args: dict[str, Any], tiny_model: Path
) -> None:
    vocab = json.loads((tiny_model / "config.json").read_text())["vocab_size"]
    chance = math.log(vocab)
    status, text = await _status(
        auto, queued[0], tool_args, metrics=_train([chance + 0.02, chance - 0.01, chance])
    )
    loss = status["loss"]
    assert loss["judgment"] == "at chance level"
    assert loss["chance_loss"] == pytest.approx(chance)
    assert f"ln {vocab:,}" in text and "no better than guessing" in text


async def test_a_rising_loss_says_so(
    auto: Settings, queued: tuple[FaultTransport, EngineState], tool_args: dict[str, Any]
) -> None:
    status, text = await _status(auto, queued[0], tool_args, metrics=_train([1.0, 1.3, 2.5]))
    assert status["loss"]["judgment"] == "rising" and "getting worse" in text


async def test_dpo_reports_reward_accuracy_margin_and_the_ln2_start(
    auto: Settings, queued: tuple[FaultTransport, EngineState], tool_args: dict[str, Any]
) -> None:
    points = [
        {
            "train/global_step": float(i + 1),
            "train/loss": loss,
            "train/rewards/accuracies": acc,
            "train/rewards/margins": margin,
        }
        for i, (loss, acc, margin) in enumerate([(0.6931, 0.0, 0.0), (0.62, 0.75, 0.3), (0.55, 0.875, 0.6)])
    ]

    def dpo(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "training_method": {"method": "dpo", "dpo_beta": 0.1}}

    status, text = await _status(auto, queued[0], tool_args, metrics=points, job=dpo)
    loss = status["loss"]
    assert loss["judgment"] == "falling"
    assert loss["chance_loss"] == pytest.approx(math.log(2))
    assert loss["reward_accuracy"] == 0.875 and loss["reward_margin"] == 0.6
    assert "DPO starts at ln 2 ≈ 0.693" in text
    assert "reward accuracy 88%" in text and "reward margin 0.6" in text


async def test_dpo_still_at_ln2_is_chance_level(
    auto: Settings, queued: tuple[FaultTransport, EngineState], tool_args: dict[str, Any]
) -> None:
    points = [
        {"train/global_step": float(i + 1), "train/loss": 0.6931, "train/rewards/accuracies": 0.5}
        for i in range(3)
    ]
    status, text = await _status(auto, queued[0], tool_args, metrics=points)
    assert status["loss"]["judgment"] == "at chance level"  # the reward metrics alone say it is DPO
    assert "no preference learned yet" in text


async def test_the_stage_agrees_with_the_latest_event(
    auto: Settings, queued: tuple[FaultTransport, EngineState], tool_args: dict[str, Any]
) -> None:
    """A status that runs ahead of the events ("uploading" while the latest event is the saving step) does not
    decide the stage: the latest event does, and the answer names it."""
    faults = queued[0]
    async with Client(build_server(auto, transport=faults)) as c:
        job_id = (await call_ok(c, "create_finetune", tool_args))["job_id"]
        events = [
            ("training_start", "Training."),
            ("training_complete", "Training complete after 6 steps."),
            ("model_compressing", "Saving the outputs."),
        ]

        def uploading(body: dict[str, Any]) -> dict[str, Any]:
            return {**body, "status": "uploading"}

        def saving(body: dict[str, Any]) -> dict[str, Any]:
            base = body["data"][0]
            extra = [
                {**base, "type": t, "message": m, "created_at": f"2030-01-01T00:00:0{i}Z"}
                for i, (t, m) in enumerate(events)
            ]
            return {**body, "data": body["data"] + extra}

        faults.inject("GET", f"/v1/fine-tunes/{job_id}", rewrite_json(uploading), forever=True)
        faults.inject("GET", f"/v1/fine-tunes/{job_id}/events", rewrite_json(saving), forever=True)
        result = await c.call_tool("job_status", {"job_id": job_id})
    status = dict(result.structured_content or {})
    assert status["latest_event"] == "model_compressing"
    assert status["stage"] == "saving"  # the latest event's stage, not the status's ("upload")
    assert "stage: saving, latest event model_compressing" in text_of(result)
