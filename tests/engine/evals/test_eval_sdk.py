"""The official SDK (``client.evals``) runs compare, score and classify evaluations on the engine to the end.

Answers come from dataset columns (as on Together, when responses are pre-generated) or from a served model;
the judge is a served model. With a judge that always says "A", position-bias correction turns every sample
into a tie; without it, A wins every one. A judge whose answers cannot be read declares no winner.
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
import together
from together.types import EvaluationJob

from support.evals import FINISHED, judge, upload_rows, wait_finished, wait_status

ROWS = [
    {"prompt": "What is the capital of France?", "answer_a": "Paris.", "answer_b": "Lyon."},
    {"prompt": "What do bees make?", "answer_a": "Honey.", "answer_b": "Wax, mostly."},
    {"prompt": "How many legs does a spider have?", "answer_a": "Eight.", "answer_b": "Six."},
]

pytestmark = pytest.mark.slow  # the engine runs as a process

Served = tuple[httpx2.Client, together.Together]


def _compare(sdk: together.Together, file_id: str, judge_model: str, **parameters: Any) -> Any:
    created = sdk.evals.create(
        type="compare",
        parameters={
            "input_data_file_path": file_id,
            "judge": judge(judge_model, max_tokens=1),
            "model_a": "answer_a",
            "model_b": "answer_b",
            **parameters,
        },
    )
    assert created.status == "pending" and created.workflow_id and created.workflow_id.startswith("eval-")
    return created.workflow_id


def _counts(results: Any) -> dict[str, Any]:
    return results.model_dump(by_alias=True, exclude_none=True)


def test_compare_runs_to_completion_and_its_counts_add_up(served: Served) -> None:
    client, sdk = served
    file_id = upload_rows(client, ROWS)
    eval_id = _compare(sdk, file_id, "local/judge-a")

    status = wait_finished(sdk, eval_id)
    assert status.status == "completed", status
    counts = _counts(status.results)
    # The judge always prefers the response shown first: both orders disagree on every sample, so all are ties.
    assert counts["Ties"] == 3 and counts["A_wins"] == counts["B_wins"] == 0
    added = sum(counts[k] for k in ("A_wins", "B_wins", "Ties", "generation_fail_count", "judge_fail_count"))
    assert added == counts["num_samples"] == len(ROWS)

    job = sdk.evals.retrieve(eval_id)
    assert isinstance(job, EvaluationJob)
    assert job.workflow_id == eval_id and job.type == "compare" and job.status == "completed"
    assert job.parameters is not None and job.parameters["model_a"] == "answer_a"
    assert job.created_at is not None and job.updated_at is not None and job.updated_at >= job.created_at
    assert [u.status for u in job.status_updates or []] == ["pending", "running", "completed"]
    assert eval_id in [j.workflow_id for j in sdk.evals.list()]
    assert eval_id in [j.workflow_id for j in sdk.evals.list(status="completed", limit=50)]
    assert eval_id not in [j.workflow_id for j in sdk.evals.list(status="running")]

    # The per-sample results are a file of the files API, one row per sample, judged in both orders.
    content = client.get(f"/v1/files/{counts['result_file_id']}/content")
    assert content.status_code == 200
    rows = [json.loads(line) for line in content.text.splitlines()]
    assert [r["prompt"] for r in rows] == [r["prompt"] for r in ROWS]
    assert {r["final_decision"] for r in rows} == {"Tie"}
    assert all(r["judge_feedback_original_order"] == "A" == r["judge_feedback_flipped_order"] for r in rows)


def test_without_position_bias_correction_the_first_response_wins(served: Served) -> None:
    client, sdk = served
    eval_id = _compare(sdk, upload_rows(client, ROWS), "local/judge-a", disable_position_bias_correction=True)
    counts = _counts(wait_finished(sdk, eval_id).results)
    assert counts["A_wins"] == 3 and counts["Ties"] == counts["B_wins"] == counts["judge_fail_count"] == 0


def test_a_judge_whose_answers_cannot_be_read_declares_no_winner(served: Served) -> None:
    client, sdk = served
    # Model A generates its answers (the tiny model); the judge is the tiny model too, and says gibberish.
    eval_id = _compare(
        sdk,
        upload_rows(client, ROWS),
        "local/tiny",
        model_a={
            "model": "local/tiny",
            "model_source": "dedicated",
            "max_tokens": 4,
            "temperature": 0,
            "system_template": "Answer briefly.",
            "input_template": "{{prompt}}",
        },
        judge=judge("local/tiny", max_tokens=6),
    )
    status = wait_finished(sdk, eval_id)
    assert status.status == "completed"
    counts = _counts(status.results)
    assert counts["judge_fail_count"] == counts["num_samples"] == 3
    assert counts["A_wins"] == counts["B_wins"] == counts["Ties"] == 0


def test_a_missing_answer_is_a_generation_failure_and_still_counted(served: Served) -> None:
    client, sdk = served
    rows = [*ROWS, {"prompt": "What is frozen water called?", "answer_a": None, "answer_b": "Ice."}]
    counts = _counts(wait_finished(sdk, _compare(sdk, upload_rows(client, rows), "local/judge-a")).results)
    assert counts["generation_fail_count"] == 1 and counts["Ties"] == 3 and counts["num_samples"] == 4


def test_score_aggregates_the_judges_scores(served: Served) -> None:
    client, sdk = served
    created = sdk.evals.create(
        type="score",
        parameters={
            "input_data_file_path": upload_rows(client, ROWS),
            "judge": judge("local/judge-7", max_tokens=1),
            "model_to_evaluate": "answer_a",
            "min_score": 1,
            "max_score": 10,
            "pass_threshold": 7,
        },
    )
    status = wait_finished(sdk, str(created.workflow_id))
    assert status.status == "completed"
    results = status.results.model_dump(exclude_none=True)
    assert results["aggregated_scores"] == {"mean_score": 7.0, "std_score": 0.0, "pass_percentage": 100.0}
    assert results["judge_fail_count"] == results["invalid_score_count"] == results["failed_samples"] == 0


def test_classify_counts_labels_and_passes(served: Served) -> None:
    client, sdk = served
    created = sdk.evals.create(
        type="classify",
        parameters={
            "input_data_file_path": upload_rows(client, ROWS),
            "judge": judge("local/judge-a", max_tokens=1),
            "labels": ["A", "B"],
            "pass_labels": ["B"],
        },
    )
    status = wait_finished(sdk, str(created.workflow_id))
    assert status.status == "completed"
    results = status.results.model_dump(exclude_none=True)
    assert json.loads(results["label_counts"]) == {"A": 3, "B": 0}
    assert results["pass_percentage"] == 0.0 and results["invalid_label_count"] == 0


def test_a_model_the_engine_does_not_serve_is_the_users_error(served: Served) -> None:
    client, sdk = served
    eval_id = _compare(sdk, upload_rows(client, ROWS), "local/no-such-judge")
    status = wait_finished(sdk, eval_id)
    assert status.status == "user_error"
    job = sdk.evals.retrieve(eval_id)
    assert job.results is not None
    error = job.results.model_dump()["error"]
    assert "local/no-such-judge" in error and "endpoint" in error


def test_model_list_names_the_served_models(served: Served) -> None:
    client, _ = served
    response = client.get("/v1/evaluation/model-list", params={"model_source": "all"})
    assert response.status_code == 200
    assert response.json() == {"model_list": ["local/judge-7", "local/judge-a", "local/tiny"]}


def test_a_template_naming_a_missing_column_is_the_users_error(served: Served) -> None:
    client, sdk = served
    generating = {
        "model": "local/tiny",
        "model_source": "dedicated",
        "max_tokens": 2,
        "temperature": 0,
        "system_template": "",
        "input_template": "{{question}}",
    }
    eval_id = _compare(sdk, upload_rows(client, ROWS), "local/judge-a", model_a=generating)
    assert wait_finished(sdk, eval_id).status == "user_error"
    error = sdk.evals.retrieve(eval_id).results.model_dump()["error"]
    assert "{{question}}" in error and "line 1" in error and "'prompt'" in error


def test_a_running_evaluation_stops_after_its_current_sample_when_cancelled(served: Served) -> None:
    client, sdk = served
    eval_id = _compare(sdk, upload_rows(client, ROWS * 2000), "local/judge-a")  # 6,000 samples: minutes
    wait_status(client, eval_id, "running")
    response = client.post(f"/v1/evaluation/{eval_id}/cancel")
    assert response.status_code == 200, response.text
    ended = wait_status(client, eval_id, *FINISHED)
    assert ended["status"] == "user_error"
    assert ended["results"]["error"].startswith("Cancelled at the user's request after")
    assert ended["status_updates"][-1]["status"] == "user_error"
