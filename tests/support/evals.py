"""Helpers of the evaluation tests: the official SDK on an engine, a served model, evaluation data, waiting."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import together

from support.engine import API_KEY, P, deploy, wait_state
from support.poll import until_sync

FINISHED = ("completed", "error", "user_error")


def sdk_for(url: str) -> together.Together:
    """The SDK on the engine at ``url``, validating every answer strictly against its own types."""
    return together.Together(api_key=API_KEY, base_url=url, max_retries=0, _strict_response_validation=True)


def serve(http: Any, model_id: str, name: str) -> tuple[str, str]:
    """Serve registered model ``model_id`` as endpoint ``local/<name>`` (one deployment), once it is READY; the
    endpoint's and the deployment's ids."""
    ep = http.post(f"{P}/endpoints", json={"name": name}).json()
    dep = deploy(http, ep["id"], model_id)
    wait_state(http, ep["id"], dep["id"], "DEPLOYMENT_STATE_READY")
    return ep["id"], dep["id"]


def upload_rows(http: Any, rows: list[dict[str, Any]], name: str = "eval.jsonl") -> str:
    """Upload ``rows`` as a JSONL file of purpose "eval"; its id."""
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    response = http.post(
        "/v1/files/upload",
        files={"file": (name, data, "application/octet-stream")},
        data={"purpose": "eval", "file_name": name, "file_type": "jsonl"},
    )
    assert response.status_code == 200, response.text
    file_id: str = response.json()["id"]
    return file_id


def judge(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "model_source": "dedicated", "system_template": "You are a fair judge.", **extra}


def wait_finished(sdk: together.Together, eval_id: str) -> Any:
    """The SDK's status of evaluation ``eval_id`` once it has ended."""

    def finished() -> Any:
        status = sdk.evals.status(eval_id)
        return status if status.status in FINISHED else None

    return until_sync(finished, f"evaluation {eval_id} to finish")


def wait_status(http: httpx2.Client | Any, eval_id: str, *want: str) -> dict[str, Any]:
    """The raw ``EvaluationJob`` of ``eval_id`` once its status is one of ``want``."""

    def reached() -> dict[str, Any] | None:
        job: dict[str, Any] = http.get(f"/v1/evaluation/{eval_id}").json()
        return job if job["status"] in want else None

    return until_sync(reached, f"evaluation {eval_id} to reach {want}")
