"""explain_job: a job's error, events and status, read the way Together's troubleshooting page reads them."""

from __future__ import annotations

from typing import Any

from byom.hub import InspectReport, MemoryEstimate
from byom.jobs.status import stage_of
from byom.together import FinetuneEvent, FinetuneResponse
from byom.triage import explain_job


def _events(*specs: tuple[str, str] | tuple[str, str, str]) -> list[FinetuneEvent]:
    out = []
    for i, spec in enumerate(specs):
        kind, message = spec[0], spec[1]
        level = spec[2] if len(spec) > 2 else "info"
        out.append(
            FinetuneEvent.model_validate(
                {"type": kind, "message": message, "level": level, "created_at": f"2026-11-30T10:00:{i:02d}Z"}
            )
        )
    return out


def _job(status: str, **kw: Any) -> FinetuneResponse:
    return FinetuneResponse.model_validate({"id": "ft-0a1b2c3d", "status": status, **kw})


def test_a_matched_job_error_with_the_jobs_own_settings() -> None:
    report = InspectReport(
        model="acme/m",
        source="hub",
        verdict="compatible",
        findings=[],
        transformers_ceiling="5.10",
        memory=MemoryEstimate(full_finetune_gb=60, lora_gb=8, inference_gb=7, formula="f", source="t"),
    )
    job = _job(
        "error",
        training_type={"type": "Full"},
        batch_size=16,
        max_seq_length=4096,
        error={
            "message": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
            "stage": "training",
        },
    )
    events = _events(
        ("JOB_START", "started"), ("training_start", "Training"), ("job_error", "failed", "error")
    )
    explanation = explain_job(job, events, report=report)
    assert explanation.pattern_id == "cuda-out-of-memory" and explanation.stage == "training"
    assert explanation.job_id == "ft-0a1b2c3d" and explanation.status == "error"
    assert explanation.corrected_call is not None and explanation.corrected_call.changes == {
        "training_type": "lora"
    }


def test_an_error_event_message_is_matched_when_the_job_has_no_error_object() -> None:
    events = _events(
        ("model_downloading", "Fetching"),
        (
            "job_error",
            "Job failed during download: acme/x is gated. Accept its licence on huggingface.co and set HF_TOKEN for the engine.",
            "error",
        ),
    )
    explanation = explain_job(_job("error"), events)
    assert explanation.pattern_id == "engine-gated-repo" and explanation.stage == "download"


def test_cancelled_right_after_creation_is_a_balance_check() -> None:
    explanation = explain_job(_job("cancelled"), _events(("job_pending", "created")))
    assert explanation.category == "billing" and explanation.confidence == "inferred from status"
    assert "balance" in explanation.fixes[0].lower() or "funds" in explanation.fixes[0].lower()


def test_cancelled_right_after_creation_with_wandb_puts_the_key_first() -> None:
    job = _job("CANCELLED", wandb_project_name="runs")
    explanation = explain_job(job, _events(("job_pending", "created")))
    assert explanation.category == "billing" and "W&B" in explanation.fixes[0]


def test_a_cancel_request_is_not_a_failure() -> None:
    events = _events(("training_start", "t"), ("CANCEL_REQUESTED", "cancel requested"))
    explanation = explain_job(_job("cancelled"), events)
    assert explanation.category == "unknown" and "on request" in explanation.cause and explanation.retryable


def test_billing_limit_event() -> None:
    events = _events(("training_start", "t"), ("BILLING_LIMIT", "Stopping.", "Warning"))
    explanation = explain_job(_job("cancelled"), events)
    assert explanation.category == "billing" and "billing_limit" in explanation.cause


def test_user_error_right_after_data_download_is_data_validation() -> None:
    events = _events(
        ("model_downloading", "m"),
        ("model_download_complete", "m"),
        ("training_data_downloading", "d"),
        ("JOB_USER_ERROR", "The job failed.", "Error"),
    )
    explanation = explain_job(_job("user_error"), events)
    assert explanation.category == "data_format" and explanation.confidence == "inferred from status"
    assert "check_training_data" in explanation.fixes[0]


def test_error_right_after_data_download_is_data_validation() -> None:
    events = _events(("model_download_complete", "m"), ("training_data_download_complete", "d"))
    assert explain_job(_job("error"), events).category == "data_format"


def test_internal_error_with_a_restart_names_the_new_job() -> None:
    events = _events(
        ("training_start", "t"),
        ("job_restarted", "Restarted as ft-9f8e7d6c-1111 after an infrastructure problem."),
    )
    explanation = explain_job(_job("error"), events)
    assert explanation.category == "internal" and explanation.docs_class == "Internal error"
    assert "ft-9f8e7d6c-1111" in explanation.fixes[0] and explanation.retryable


def test_an_unexplained_error_is_unknown_with_its_root_line() -> None:
    job = _job("error", error={"message": "Flux capacitor desynchronised"})
    explanation = explain_job(job, _events(("training_start", "t")))
    assert explanation.category == "unknown" and explanation.evidence == "Flux capacitor desynchronised"
    assert explanation.stage == "training"


def test_a_running_job_has_nothing_to_explain() -> None:
    explanation = explain_job(_job("running"), _events(("training_start", "t")))
    assert explanation.category == "unknown" and "running" in explanation.cause


def test_a_failure_after_the_compression_is_in_the_upload_where_job_status_puts_the_job() -> None:
    """One table for both: the compression done ends the saving, so what fails next fails in the upload."""
    events = _events(
        ("training_complete", "Trained"),
        ("model_compressing", "Saving"),
        ("model_compression_complete", "Saved"),
    )
    assert explain_job(_job("error"), events).stage == "upload"
    assert stage_of(_job("running"), events) == "upload"
