"""Responses of the v1 paths the April 2026 spec still describes, validated with openapi-core.

The spec is copied to ``tests/fixtures/together-openapi.yaml`` (from shared/ref). Where SDK 3.1.1
and the spec disagree, the engine follows the SDK (ref together-api-2026-11 §6); the few spec
rules the SDK's own wire shapes break are listed in ``SPEC_DEVIATIONS`` and checked to be the only
errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from support.engine import job_body, upload, wait_job

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "together-openapi.yaml"
SERVER = "https://api.together.ai"


def _fix_train_on_inputs(schemas: dict[str, Any]) -> None:
    # `oneOf: [boolean, "auto"]` next to a stray `type: boolean`: "auto", which the SDK sends and the
    # job echoes (ref §2.3), could never validate. Drop the stray type.
    schemas["TrainingMethodSFT"]["properties"]["train_on_inputs"].pop("type")


def _fix_scheduler_args(schemas: dict[str, Any]) -> None:
    # Cosine args {min_lr_ratio, num_cycles} also match LinearLRSchedulerArgs (no
    # additionalProperties: false), so `oneOf` rejects every cosine job. Either branch is fine.
    args = schemas["LRScheduler"]["properties"]["lr_scheduler_args"]
    args["anyOf"] = args.pop("oneOf")


def _fix_job_id_format(schemas: dict[str, Any]) -> None:
    # `format: uuid`, yet Together's job ids are "ft-<uuid>" (the SDK's ft_id "ft-…", ref §2.1, §2.2).
    schemas["FinetuneResponse"]["properties"]["id"].pop("format")


def _fix_error_nullables(schemas: dict[str, Any]) -> None:
    # `nullable: true` is OpenAPI 3.0; this document is 3.1, where it means nothing, so the null
    # `param`/`code` of Together's error shape would fail. Say it the 3.1 way.
    for name in ("param", "code"):
        schemas["ErrorData"]["properties"]["error"]["properties"][name]["type"] = ["string", "null"]


# Rules of the April spec that SDK 3.1.1's own wire shapes break; the engine follows the SDK.
SPEC_DEVIATIONS = (_fix_train_on_inputs, _fix_scheduler_args, _fix_job_id_format, _fix_error_nullables)


@cache
def _openapi() -> OpenAPI:
    with SPEC.open(encoding="utf-8") as fh:
        document = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for fix in SPEC_DEVIATIONS:
        fix(document["components"]["schemas"])
    # The document itself has the same train_on_inputs flaw, so its own check is skipped.
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


@dataclass
class _Request:
    method: str
    path: str
    body: bytes | None = None
    content_type: str = "application/json"
    host_url: str = SERVER
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class _Response:
    status_code: int
    data: bytes
    content_type: str
    headers: Headers


def validate(response: httpx2.Response, path_pattern: str | None = None) -> None:
    """Validate one engine response against the spec's operation for its method and path."""
    request = response.request
    params = RequestParameters(
        query=ImmutableMultiDict(list(request.url.params.multi_items())), header=Headers()
    )
    req = _Request(method=request.method.lower(), path=request.url.path, parameters=params)
    res = _Response(
        response.status_code,
        response.content,
        response.headers.get("content-type", ""),
        Headers(list(response.headers.items())),
    )
    _openapi().validate_response(req, res)


async def test_v1_responses_match_the_spec(
    client: httpx2.AsyncClient, tiny_model: Path, overfit_bytes: bytes
) -> None:
    file = await upload(client, overfit_bytes)
    validate(await client.get(f"/v1/files/{file['id']}"))
    validate(await client.get("/v1/files"))
    validate(await client.get("/v1/fine-tunes/models/limits", params={"model_name": "Qwen/Qwen3-0.6B"}))
    body = job_body(file["id"], tiny_model, n_epochs=1, n_checkpoints=1)
    created = await client.post("/v1/fine-tunes", json=body)
    validate(created)
    done = await wait_job(client, created.json()["id"])
    assert done["status"] == "completed"
    job_id = done["id"]
    for path in (
        f"/v1/fine-tunes/{job_id}",
        "/v1/fine-tunes",
        f"/v1/fine-tunes/{job_id}/events",
        f"/v1/fine-tunes/{job_id}/checkpoints",
    ):
        validate(await client.get(path))
    validate(
        await client.post(
            "/v1/fine-tunes/estimate-price", json={"training_file": file["id"], "model": "Qwen/Qwen3-0.6B"}
        )
    )
    validate(await client.get(f"/v1/files/{file['id']}/content"))
    validate(
        await client.post(
            "/v1/files/upload",
            files={"file": ("b.jsonl", overfit_bytes + b"\n")},
            data={"purpose": "fine-tune", "file_name": "b.jsonl"},
        )
    )
    validate(await client.delete(f"/v1/files/{file['id']}"))
    # Errors, where the spec describes them (only DELETE /fine-tunes/{id} does: 404 ErrorData).
    validate(await client.delete("/v1/fine-tunes/ft-missing"))
    validate(await client.get("/v1/fine-tunes/models/limits", params={"model_name": "nobody/nothing"}))
