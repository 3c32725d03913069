"""Evaluations API: Together's ``/v1/evaluation`` routes with its request and response shapes.

    POST /v1/evaluation                 {"type", "parameters"} → {"workflow_id", "status": "pending"}
    GET  /v1/evaluation                 ?limit=&status= → [EvaluationJob], newest first
    GET  /v1/evaluation/model-list      {"model_list": [the models the engine serves now]}
    GET  /v1/evaluation/{id}            EvaluationJob
    GET  /v1/evaluation/{id}/status     {"status", "results"}
    POST /v1/evaluation/{id}/cancel     byom extension (Together documents no cancel): EvaluationJob

The official SDK's ``client.evals.create/retrieve/status/list`` drive these unchanged (SDK 3.1.1,
together-openapi.yaml ``/evaluation…``). The run itself is ``runner.EvalRunner``'s.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from byom.engine.deploy.runtime import ADAPTER_READY, READY
from byom.engine.evals import jobs
from byom.engine.evals.bodies import EvaluationCreated, EvaluationStatusBody, Parameters
from byom.engine.evals.kinds import KINDS
from byom.engine.files import get_file_row
from byom.engine.http import answer, int_query, parse_body, validated, wire
from byom.engine.state import EngineState, engine_of
from byom.errors import Conflict, InvalidRequest, NotFound

__all__ = ["routes"]

_STATUSES = ("pending", "queued", "running", "completed", "error", "user_error")


class _Create(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=40)
    parameters: dict[str, Any]


def _parameters(body: _Create) -> Parameters:
    kind = KINDS.get(body.type)
    if kind is None:
        raise InvalidRequest(
            f"Unknown evaluation type {body.type!r}. Use one of: {', '.join(KINDS)}.", param="type"
        )
    return validated(kind.parameters, body.parameters, at="parameters")


def _input_file(state: EngineState, file_id: str) -> str:
    try:
        row = get_file_row(state, file_id)
    except NotFound:
        raise InvalidRequest(
            f"Input file {file_id[:100]!r} not found. Upload the evaluation data (JSONL) with POST /v1/files, "
            "purpose 'eval', and pass its id as input_data_file_path.",
            param="parameters.input_data_file_path",
        ) from None
    if not row["sha256"]:
        raise InvalidRequest(
            f"Input file {file_id!r} has no content yet. Finish its upload, then create the evaluation.",
            param="parameters.input_data_file_path",
        )
    if row["file_type"] != "jsonl":
        raise InvalidRequest(
            f"Input file {file_id!r} is {row['file_type']}; the local engine evaluates JSONL only. Convert it.",
            param="parameters.input_data_file_path",
        )
    return str(row["id"])


async def create_evaluation(request: Request) -> JSONResponse:
    state = engine_of(request)
    body = await parse_body(request, _Create)
    params = _parameters(body)
    input_file = _input_file(state, params.input_data_file_path)
    # Stored as accepted, without a secret: an external token is refused above, and never kept.
    stored = params.model_dump(mode="json", exclude_none=True)
    eval_id = jobs.create(state.db, body.type, stored, input_file)
    state.evals.wake()
    return answer(EvaluationCreated(workflow_id=eval_id))


async def list_evaluations(request: Request) -> JSONResponse:
    state = engine_of(request)
    limit = int_query(request, "limit", 100, 1, 1000)
    status = request.query_params.get("status")
    if status is not None and status not in _STATUSES:
        raise InvalidRequest(
            f"Unknown status {status[:40]!r}. Filter by one of: {', '.join(_STATUSES)}.", param="status"
        )
    where, params = ("WHERE status = ?", (status, limit)) if status else ("", (limit,))
    rows = state.db.query(
        f"SELECT * FROM evaluations {where} ORDER BY created_at DESC, queue_seq DESC LIMIT ?", params
    )
    return JSONResponse([wire(jobs.job_payload(state.db, row)) for row in rows])


async def retrieve_evaluation(request: Request) -> JSONResponse:
    state = engine_of(request)
    return answer(jobs.job_payload(state.db, jobs.get_row(state.db, request.path_params["id"])))


async def evaluation_status(request: Request) -> JSONResponse:
    state = engine_of(request)
    job = jobs.job_payload(state.db, jobs.get_row(state.db, request.path_params["id"]))
    return answer(EvaluationStatusBody(status=job.status, results=job.results))


async def cancel_evaluation(request: Request) -> JSONResponse:
    state = engine_of(request)
    row = jobs.get_row(state.db, request.path_params["id"])
    if row["status"] in jobs.FINISHED:
        raise Conflict(
            f"Evaluation {row['id']} already ended ({row['status']}); there is nothing to cancel.",
            headers={"x-should-retry": "false"},
        )
    state.evals.cancel(row["id"])
    return answer(jobs.job_payload(state.db, jobs.get_row(state.db, row["id"])))


async def model_list(request: Request) -> JSONResponse:
    """The names a model, model_a/model_b or judge may take: endpoints with a READY deployment, attached adapters.
    Every model is the engine's own, so ``model_source`` filters nothing."""
    state = engine_of(request)
    slug, pid = state.project["slug"], state.project["id"]
    endpoints = state.db.query(
        "SELECT DISTINCT e.name FROM endpoints e JOIN deployments d ON d.endpoint_id = e.id"
        " WHERE e.project_id = ? AND d.state = ? ORDER BY e.name",
        (pid, READY),
    )
    adapters = state.db.query(
        "SELECT DISTINCT m.name FROM registry_models m JOIN deployment_adapters a ON a.adapter_model_id = m.id"
        " WHERE m.project_id = ? AND a.state = ? ORDER BY m.name",
        (pid, ADAPTER_READY),
    )
    names = [f"{slug}/{r['name']}" for r in [*endpoints, *adapters]]
    return JSONResponse({"model_list": names})


routes: list[BaseRoute] = [
    Route("/v1/evaluation", create_evaluation, methods=["POST"]),
    Route("/v1/evaluation", list_evaluations, methods=["GET"]),
    Route("/v1/evaluation/model-list", model_list, methods=["GET"]),
    Route("/v1/evaluation/{id}", retrieve_evaluation, methods=["GET"]),
    Route("/v1/evaluation/{id}/status", evaluation_status, methods=["GET"]),
    Route("/v1/evaluation/{id}/cancel", cancel_evaluation, methods=["POST"]),
]
