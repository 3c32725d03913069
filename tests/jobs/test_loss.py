"""Is it learning? The judgment job_status gives, from the loss history (byom.jobs.loss), and what it suggests."""

from __future__ import annotations

import math

from byom.jobs.loss import watch_loss
from byom.jobs.status import summarize
from byom.together import FinetuneMetrics, FinetuneResponse


def _metrics(values: list[float]) -> FinetuneMetrics:
    return FinetuneMetrics(
        metrics=[{"train/global_step": float(i), "train/loss": v} for i, v in enumerate(values, 1)]
    )


def test_a_loss_that_fell_and_then_levelled_off_is_judged_flat_not_falling() -> None:
    """Trial: 0.693 → 0.387 with the last 8 steps between 0.385 and 0.39 was still called "falling"."""
    fell = [6.0 - 0.25 * i for i in range(16)]
    values = fell + [2.2, 2.21, 2.19, 2.2, 2.2, 2.21, 2.19, 2.2]
    watch = watch_loss(_metrics(values), dpo=False, vocab_size=None)
    assert watch.trend == "falling" and watch.judgment == "flat"
    assert watch.explanation and "levelled off over its last" in watch.explanation


def test_a_steady_fall_and_a_short_run_are_falling() -> None:
    assert watch_loss(_metrics([3.0 - 0.05 * i for i in range(30)]), dpo=False, vocab_size=None).judgment == (
        "falling"
    )
    assert watch_loss(_metrics([3.0, 2.8, 2.6]), dpo=False, vocab_size=None).judgment == "falling"


def test_a_completed_job_that_learned_nothing_is_not_sent_to_deploy() -> None:
    """Trial: a job at chance level the whole run (6.216 → 6.165, ln 512 ≈ 6.24) was told "Done: deploy it"."""
    job = FinetuneResponse(id="ft-1", status="completed")
    stuck = summarize(job, [], [], _metrics([6.216, 6.208, 6.19, 6.175, 6.165]), vocab_size=512)
    assert stuck.loss.judgment == "at chance level"
    assert "did not learn" in stuck.next_step and "deploy_endpoint" not in stuck.next_step
    validated = job.model_copy(update={"validation_file": "file-val"})
    learned = summarize(validated, [], [], _metrics([6.2, 5.0, 4.1, 3.6]), vocab_size=512)
    assert learned.next_step.startswith(
        "Done: see whether it beats its base with evaluate_model(model='ft-1'), then deploy it with "
        "deploy_endpoint(job_id='ft-1'); or train on from it: create_finetune(from_checkpoint='ft-1'"
    )


def test_a_job_without_a_validation_file_is_sent_to_evaluate_on_rows_it_did_not_train_on() -> None:
    """Trial D: job_status said evaluate_model(model=job), which then failed: the job had no validation file."""
    job = FinetuneResponse(id="ft-1", status="completed")
    learned = summarize(job, [], [], _metrics([6.2, 5.0, 4.1, 3.6]), vocab_size=512)
    assert "evaluate_model(model='ft-1', data=<a .jsonl of rows it did not train on>)" in learned.next_step
    assert "no validation file" in learned.next_step


def test_a_loss_that_levelled_off_as_the_schedule_decayed_says_the_schedule_slowed_it() -> None:
    """Trial D: "(flat) … more steps at this learning rate gain little" after a cosine schedule had taken the
    learning rate to ~0: the levelling was the schedule's, and the advice pointed the wrong way."""
    fell = [6.0 - 0.25 * i for i in range(16)]
    values = fell + [2.2, 2.21, 2.19, 2.2, 2.2, 2.21, 2.19, 2.2]
    n = len(values)
    cosine = [1e-3 * 0.5 * (1 + math.cos(math.pi * i / n)) for i in range(1, n + 1)]
    metrics = FinetuneMetrics(
        metrics=[
            {"train/global_step": float(i), "train/loss": v, "train/learning_rate": lr}
            for i, (v, lr) in enumerate(zip(values, cosine, strict=True), 1)
        ]
    )
    watch = watch_loss(metrics, dpo=False, vocab_size=None)
    assert watch.judgment == "flat" and watch.explanation
    assert (
        "while the learning rate decayed to" in watch.explanation
        and "schedule slowed it" in watch.explanation
    )
    assert "gain little" not in watch.explanation
    # A constant learning rate: the model itself stopped improving.
    constant = FinetuneMetrics(metrics=[{**m, "train/learning_rate": 1e-3} for m in metrics.metrics])
    steady = watch_loss(constant, dpo=False, vocab_size=None)
    assert steady.explanation and "gain little" in steady.explanation and "decayed" not in steady.explanation
