"""``/v1/evaluation`` without models: bad requests are 4xx that say what to fix, answers parse as the SDK's
types, a pending evaluation is cancelled at once, and a restart never leaves one stuck."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from together.types import EvalCreateResponse, EvalStatusResponse, EvaluationJob

from byom.engine.app import create_app
from byom.engine.evals import jobs
from byom.engine.state import EngineState
from support.engine import API_KEY, assert_together_error, open_state
from support.evals import judge, upload_rows, wait_status

ROWS = [{"prompt": "What do bees make?", "answer_a": "Honey.", "answer_b": "Wax."}]


def _client(state: EngineState) -> TestClient:
    """A client of the app without its lifespan: the evaluation runner is not started, so nothing runs."""
    return TestClient(create_app(state), headers={"Authorization": f"Bearer {API_KEY}"})


@pytest.fixture
def idle(tmp_path: Path) -> Iterator[tuple[EngineState, TestClient]]:
    state = open_state(tmp_path / "engine")
    try:
        yield state, _client(state)
    finally:
        state.close()


def _compare(file_id: str, **changes: Any) -> dict[str, Any]:
    parameters = {
        "input_data_file_path": file_id,
        "judge": judge("local/judge"),
        "model_a": "answer_a",
        "model_b": "answer_b",
        **changes,
    }
    return {"type": "compare", "parameters": parameters}


def _create(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post("/v1/evaluation", json=body)
    assert response.status_code == 200, response.text
    created = EvalCreateResponse.model_validate(response.json())
    assert created.status == "pending" and created.workflow_id
    return created.workflow_id


@pytest.mark.parametrize(
    ("change", "param", "says"),
    [
        ({"type": "rank"}, "type", "Use one of: classify, score, compare"),
        ({"parameters": {"judge": None}}, "parameters.judge", "Invalid value"),
        (
            {"parameters": {"judge": {**judge("x"), "model_source": "external"}}},
            "parameters.judge.model_source",
            "calls no external API",
        ),
        ({"parameters": {"model_a": ""}}, None, "parameters.model_a"),
        ({"parameters": {"model_a": None}}, None, "parameters.model_a"),
        ({"parameters": {"disable_position_bias_corection": True}}, None, "disable_position_bias_corection"),
        (
            {"parameters": {"input_data_file_path": "file-nope"}},
            "parameters.input_data_file_path",
            "POST /v1/files",
        ),
        (
            {"type": "score", "parameters": {"min_score": 5, "max_score": 1, "pass_threshold": 3}},
            "parameters",
            "must be below max_score",
        ),
        (
            {"type": "classify", "parameters": {"labels": ["good", "bad"], "pass_labels": ["great"]}},
            "parameters",
            "are not among labels",
        ),
    ],
)
def test_a_bad_request_is_a_400_that_names_the_problem(
    idle: tuple[EngineState, TestClient], change: dict[str, Any], param: str | None, says: str
) -> None:
    state, client = idle
    body = _compare(upload_rows(client, ROWS))
    if change.get("type") in ("score", "classify"):
        del body["parameters"]["model_a"], body["parameters"]["model_b"]
    body["type"] = change.get("type", body["type"])
    for key, value in change.get("parameters", {}).items():
        body["parameters"][key] = value
    error = assert_together_error(client.post("/v1/evaluation", json=body), 400)["error"]
    assert says in error["message"], error
    if param is not None:
        assert error["param"] == param
    assert state.db.query("SELECT id FROM evaluations") == []


def test_an_external_token_is_neither_accepted_nor_echoed(idle: tuple[EngineState, TestClient]) -> None:
    _, client = idle
    secret = "sk-" + "evaluation-token-never-echoed"
    body = _compare(
        upload_rows(client, ROWS),
        judge={**judge("gpt"), "model_source": "external", "external_api_token": secret},
    )
    response = client.post("/v1/evaluation", json=body)
    assert_together_error(response, 400)
    assert secret not in response.text


def test_unknown_ids_and_filters(idle: tuple[EngineState, TestClient]) -> None:
    _, client = idle
    for path in ("/v1/evaluation/eval-nope", "/v1/evaluation/eval-nope/status"):
        assert "GET /v1/evaluation" in assert_together_error(client.get(path), 404)["error"]["message"]
    assert_together_error(client.post("/v1/evaluation/eval-nope/cancel"), 404)
    assert_together_error(client.get("/v1/evaluation", params={"status": "done"}), 400, "status")
    assert_together_error(client.get("/v1/evaluation", params={"limit": 0}), 400, "limit")
    assert client.get("/v1/evaluation").json() == []


def test_a_pending_evaluation_is_listed_and_cancelled_at_once(idle: tuple[EngineState, TestClient]) -> None:
    _, client = idle
    eval_id = _create(client, _compare(upload_rows(client, ROWS)))
    job = EvaluationJob.model_validate(client.get(f"/v1/evaluation/{eval_id}").json())
    assert job.status == "pending" and job.type == "compare" and job.results is None
    assert [j["workflow_id"] for j in client.get("/v1/evaluation", params={"status": "pending"}).json()] == [
        eval_id
    ]
    status = EvalStatusResponse.model_validate(client.get(f"/v1/evaluation/{eval_id}/status").json())
    assert status.status == "pending" and status.results is None

    cancelled = EvaluationJob.model_validate(client.post(f"/v1/evaluation/{eval_id}/cancel").json())
    assert cancelled.status == "user_error"
    assert cancelled.results is not None and "Cancelled" in cancelled.results.model_dump()["error"]
    again = assert_together_error(client.post(f"/v1/evaluation/{eval_id}/cancel"), 409)
    assert "nothing to cancel" in again["error"]["message"]


def test_a_restart_ends_a_running_evaluation_with_the_reason_and_runs_a_pending_one(tmp_path: Path) -> None:
    data_dir = tmp_path / "engine"
    state = open_state(data_dir)
    client = _client(state)
    file_id = upload_rows(client, ROWS)
    running = _create(client, _compare(file_id))
    waiting = _create(client, _compare(file_id))
    # The engine claims the first and is killed mid-run (after 1 sample): its thread is gone with it.
    assert jobs.transition(state.db, running, ("pending",), "running", "Evaluation started.", samples_done=1)
    state.close()

    state = open_state(data_dir)
    try:
        with TestClient(create_app(state), headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            job = EvaluationJob.model_validate(client.get(f"/v1/evaluation/{running}").json())
            assert job.status == "error"
            assert job.results is not None
            assert (
                "engine stopped while this evaluation was running (1 sample(s) done)"
                in job.results.model_dump()["error"]
            )
            # The pending one runs after the restart, to an end that says why (no model is served here).
            ended = wait_status(client, waiting, "completed", "error", "user_error")
            assert ended["status"] == "user_error" and "local/judge" in ended["results"]["error"]
    finally:
        state.close()
