"""The trainer as the engine runs it: a real subprocess on a tiny model, read through progress.jsonl."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from byom.engine.tiny import write_overfit_dataset
from byom.engine.trainer import EXIT_CANCELLED, EXIT_FAILED, TrainSpec
from support.engine import HANG_S
from support.poll import alive, until_sync
from support.trainer import make_spec, read_progress, run_trainer, start_trainer

pytestmark = pytest.mark.slow


def events(lines: list[dict[str, Any]]) -> list[str]:
    return [ln["type"] for ln in lines if ln["kind"] == "event"]


def losses(lines: list[dict[str, Any]]) -> list[float]:
    return [
        ln["values"]["train/loss"] for ln in lines if ln["kind"] == "metric" and "train/loss" in ln["values"]
    ]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


@pytest.fixture(scope="module")
def lora_job(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, conv_data: Path) -> dict[str, Any]:
    """One LoRA job the other tests build on (init_checkpoint, resume)."""
    job_dir = tmp_path_factory.mktemp("jobs") / "ft-lora"
    spec = make_spec(
        job_dir, tiny_model, conv_data, n_checkpoints=2, n_evals=2, validation_file=conv_data, merge_lora=True
    )
    rc, lines, out = run_trainer(spec)
    assert rc == 0, out
    return {"spec": spec, "lines": lines}


def test_lora_job_completes_with_falling_loss(lora_job: dict[str, Any]) -> None:
    lines = lora_job["lines"]
    types = events(lines)
    expected = [
        "job_start",
        "model_downloading",
        "model_download_complete",
        "training_data_downloading",
        "training_data_download_complete",
        "validation_data_downloading",
        "validation_data_download_complete",
        "training_start",
    ]
    assert types[: len(expected)] == expected
    assert types[-4:] == [
        "training_complete",
        "model_compressing",
        "model_compression_complete",
        "job_complete",
    ]
    assert types.count("epoch_complete") == 3 and types.count("checkpoint_save") == 2
    # The count says which parameters train: the adapters', beside the frozen model's (trial D read 16,384 of
    # 155,968 as a share of the model, whose own count is 139,584).
    (start,) = [ln for ln in lines if ln["kind"] == "event" and ln["type"] == "training_start"]
    assert "LoRA adapter parameters beside the model's" in start["message"], start
    assert (
        0 < start["trainable"] < start["param_count"]
    )  # as numbers too (bench/trainer_throughput.py reads them)
    metrics = [ln for ln in lines if ln["kind"] == "metric" and "train/loss" in ln["values"]]
    assert [m["step"] for m in metrics] == list(range(1, 25))  # 32 examples / batch 4 x 3 epochs
    assert all(m["total_steps"] == 24 for m in metrics)
    assert set(metrics[0]["values"]) >= {
        "train/loss",
        "train/learning_rate",
        "train/tokens_per_second",
        "train/global_step",
        "train/epoch",
    }
    loss = losses(lines)
    assert mean(loss[-4:]) < mean(loss[:4]) - 0.2
    evals = [
        ln["values"]["eval/loss"] for ln in lines if ln["kind"] == "metric" and "eval/loss" in ln["values"]
    ]
    assert len(evals) == 2


def test_lora_checkpoints_and_outputs_load(lora_job: dict[str, Any]) -> None:
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec, lines = lora_job["spec"], lora_job["lines"]
    ckpts = [ln for ln in lines if ln["kind"] == "checkpoint"]
    assert [(c["step"], c["final"], c["checkpoint"]) for c in ckpts] == [
        (12, False, "adapter"),
        (24, True, "adapter"),
    ]
    for c in ckpts:
        tensors = load_file(Path(c["path"]) / "adapter_model.safetensors")
        assert tensors and all("lora_" in k for k in tensors)
    assert sorted(p.name for p in (spec.job_dir / "checkpoints").iterdir()) == ["step-12", "step-24"]
    (result,) = [ln for ln in lines if ln["kind"] == "result"]
    assert result["total_steps"] == 24 and result["token_count"] > 0 and result["param_count"] > 0
    assert result["outputs"]["model"] is None
    assert (Path(result["outputs"]["adapter"]) / "adapter_config.json").is_file()
    merged = Path(result["outputs"]["merged"])
    model = AutoModelForCausalLM.from_pretrained(merged)
    tok = AutoTokenizer.from_pretrained(merged)
    assert tok.chat_template
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "What do bees make?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = model.generate(**prompt, max_new_tokens=5, do_sample=False)
    assert out.shape[1] > prompt["input_ids"].shape[1]


def test_resume_continues_to_the_same_total_steps(lora_job: dict[str, Any], tmp_path: Path) -> None:
    first = lora_job["spec"]
    spec = first.model_copy(
        update={
            "job_dir": tmp_path / "resumed",
            "merge_lora": False,
            "resume_checkpoint": first.job_dir / "checkpoints" / "step-12",
        }
    )
    rc, lines, out = run_trainer(spec)
    assert rc == 0, out
    assert "job_restarted" in events(lines)
    steps = [ln["step"] for ln in lines if ln["kind"] == "metric" and "train/loss" in ln["values"]]
    assert steps == list(range(13, 25))
    # Same weights, optimizer state and data order: the resumed losses repeat the original run's.
    assert losses(lines) == pytest.approx(losses(lora_job["lines"])[12:], rel=1e-3)


def test_init_checkpoint_starts_from_the_trained_adapter(lora_job: dict[str, Any], tmp_path: Path) -> None:
    first = lora_job["spec"]
    spec = first.model_copy(
        update={
            "job_dir": tmp_path / "continued",
            "merge_lora": False,
            "n_epochs": 1,
            "n_evals": 0,
            "validation_file": None,
            "init_checkpoint": first.job_dir / "checkpoints" / "step-24",
            "init_from": "job ft-lora step 24",
        }
    )
    rc, lines, out = run_trainer(spec)
    assert rc == 0, out
    assert losses(lines)[0] < losses(lora_job["lines"])[0] - 0.2
    # The continued job's own events say what it continues from.
    (ready,) = [ln for ln in lines if ln["kind"] == "event" and ln["type"] == "model_download_complete"]
    assert "Continuing from job ft-lora step 24 (step-24)" in ready["message"]


def test_full_job_with_instruction_data_and_packing(tiny_model: Path, tmp_path: Path) -> None:
    data = write_overfit_dataset(tmp_path / "instr.jsonl", n=32, fmt="instruction")
    spec = make_spec(
        tmp_path / "ft-full",
        tiny_model,
        data,
        training_type="full",
        learning_rate=3e-3,
        packing=True,
        max_seq_length=64,
        batch_size=2,
    )
    rc, lines, out = run_trainer(spec)
    assert rc == 0, out
    loss = losses(lines)
    assert mean(loss[-3:]) < mean(loss[:3]) - 0.3
    (result,) = [ln for ln in lines if ln["kind"] == "result"]
    assert result["outputs"]["adapter"] is None
    assert (Path(result["outputs"]["model"]) / "model.safetensors").is_file()
    (ckpt,) = [ln for ln in lines if ln["kind"] == "checkpoint"]
    assert ckpt["checkpoint"] == "model" and ckpt["final"]


def test_general_text_job(tiny_model: Path, tmp_path: Path) -> None:
    data = write_overfit_dataset(tmp_path / "text.jsonl", n=16, fmt="general")
    rc, lines, out = run_trainer(make_spec(tmp_path / "ft-text", tiny_model, data, n_epochs=1))
    assert rc == 0, out
    assert len(losses(lines)) == 4


def _checkpointed(spec: TrainSpec, trainer_pid: int) -> bool:
    """Whether the trainer has written a checkpoint; one that exited first never will."""
    assert alive(trainer_pid), "the trainer exited before its first checkpoint"
    return any(ln["kind"] == "checkpoint" for ln in read_progress(spec.job_dir))


def test_sigterm_stops_at_a_step_boundary_keeping_checkpoints(
    tiny_model: Path, conv_data: Path, tmp_path: Path
) -> None:
    spec = make_spec(tmp_path / "ft-cancel", tiny_model, conv_data, n_epochs=200, n_checkpoints=200)
    proc = start_trainer(spec)
    try:
        until_sync(lambda: _checkpointed(spec, proc.pid), "the trainer's first checkpoint", interval=0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill() if proc.poll() is None else None
        proc.communicate()
    assert proc.returncode == EXIT_CANCELLED
    lines = read_progress(spec.job_dir)
    assert events(lines)[-1] == "job_stopped"
    assert not any(ln["kind"] == "result" for ln in lines)
    kept = [ln for ln in lines if ln["kind"] == "checkpoint"]
    assert kept and all((Path(c["path"]) / "adapter_model.safetensors").is_file() for c in kept)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_trainer_exits_when_the_engine_dies(tiny_model: Path, conv_data: Path, tmp_path: Path) -> None:
    spec = make_spec(tmp_path / "ft-orphan", tiny_model, conv_data, n_epochs=200, n_checkpoints=200)
    spec.job_dir.mkdir(parents=True)
    (spec.job_dir / "spec.json").write_text(spec.model_dump_json())
    # A stand-in engine: starts the trainer, then dies abruptly when told (once the trainer has a checkpoint).
    engine = textwrap.dedent(
        f"""
        import os, subprocess, sys
        p = subprocess.Popen([sys.executable, "-m", "byom.engine.trainer", {str(spec.job_dir / "spec.json")!r}],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(p.pid, flush=True)
        sys.stdin.readline()
        os._exit(0)
        """
    )
    with subprocess.Popen(
        [sys.executable, "-c", engine], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as stand_in:
        assert stand_in.stdin is not None and stand_in.stdout is not None
        trainer_pid = int(stand_in.stdout.readline())
        until_sync(lambda: _checkpointed(spec, trainer_pid), "the trainer's first checkpoint", interval=0.1)
        stand_in.stdin.write("die\n")
        stand_in.stdin.flush()
        assert stand_in.wait(HANG_S) == 0
    until_sync(lambda: not alive(trainer_pid), "the orphaned trainer to exit", interval=0.1)
    lines = read_progress(spec.job_dir)
    assert events(lines)[-1] == "job_stopped"
    assert not any(ln["kind"] == "result" for ln in lines)


def _error_line(lines: list[dict[str, Any]]) -> dict[str, Any]:
    (error,) = [ln for ln in lines if ln["kind"] == "error"]
    assert events(lines)[-1] == "job_error"
    return error


def test_unreachable_hub_model_fails_in_download_without_leaking_the_token(
    conv_data: Path, tmp_path: Path
) -> None:
    spec = make_spec(tmp_path / "ft", "someorg/not-on-this-machine", conv_data)
    secret = "hf_" + "x" * 34
    rc, lines, out = run_trainer(spec, env={"HF_HUB_OFFLINE": "1", "HF_TOKEN": secret})
    assert rc == EXIT_FAILED
    error = _error_line(lines)
    assert (
        error["stage"] == "download" and "Could not download someorg/not-on-this-machine" in error["message"]
    )
    assert secret not in out and secret not in (spec.job_dir / "progress.jsonl").read_text()


def test_dpo_job_learns_the_preference(tiny_model: Path, tmp_path: Path) -> None:
    data = write_overfit_dataset(tmp_path / "pref.jsonl", n=16, fmt="preference")
    spec = make_spec(
        tmp_path / "ft-dpo",
        tiny_model,
        data,
        method="dpo",
        dpo_beta=0.5,
        n_epochs=4,
        validation_file=data,
        n_evals=1,
    )
    rc, lines, out = run_trainer(spec)
    assert rc == 0, out
    loss = losses(lines)
    # The reference is the starting model, so the first step's loss is -log sigmoid(0) = ln 2.
    assert loss[0] == pytest.approx(math.log(2), abs=1e-3)
    assert mean(loss[-4:]) < math.log(2) - 0.05
    assert any("eval/loss" in ln["values"] for ln in lines if ln["kind"] == "metric")
    # TRL's reward metrics: none preferred at the start (policy = reference), the chosen side wins at the end.
    train = [ln["values"] for ln in lines if ln["kind"] == "metric" and "train/loss" in ln["values"]]
    assert train[0]["train/rewards/margins"] == pytest.approx(0.0, abs=1e-4)
    assert train[-1]["train/rewards/accuracies"] >= 0.75 and train[-1]["train/rewards/margins"] > 0
    evals = [ln["values"] for ln in lines if ln["kind"] == "metric" and "eval/loss" in ln["values"]]
    assert 0.0 <= evals[-1]["eval/rewards/accuracies"] <= 1.0 and "eval/rewards/margins" in evals[-1]
    (result,) = [ln for ln in lines if ln["kind"] == "result"]
    assert result["outputs"]["adapter"]
