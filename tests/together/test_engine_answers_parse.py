"""Every answer of the real local engine parses into the client's models with nothing left over.

The MCP tools read Together's answers through ``byom.together`` models; the engine writes them. This walks a
real flow (upload, a tiny LoRA job, registry, deploy, inference, errors) and asserts, recursively, that no
field the engine sends lands in ``model_extra``: a field added on one side only fails here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TypeVar

import httpx2
import pytest
from pydantic import BaseModel

from byom.engine.state import EngineState
from byom.together import (
    ChatCompletion,
    CompletionChunk,
    DeleteResult,
    Deployment,
    DeploymentAdapter,
    DeploymentAdapterList,
    DeploymentList,
    Endpoint,
    EndpointEventList,
    EndpointList,
    ErrorBody,
    FileList,
    FileObject,
    FinetuneCheckpointList,
    FinetuneEventList,
    FinetuneList,
    FinetuneMetrics,
    FinetuneModelLimits,
    FinetuneResponse,
    InstanceType,
    InstanceTypeList,
    ModelFileList,
    ModelRevisionList,
    PriceEstimate,
    RegistryModel,
    RegistryModelList,
    ServingConfig,
    ServingConfigList,
    SupportedModel,
    SupportedModelPage,
    TextCompletion,
    Whoami,
)
from support.engine import PID, TEMPLATE, P, job_body, upload, wait_deployment, wait_file, wait_job
from support.poll import until

M = TypeVar("M", bound=BaseModel)

# FinetuneEvent types SDK 3.1.1 knows, lower-cased (ref together-api-2026-11 §2.9, lib additions included).
KNOWN_EVENT_TYPES = frozenset(
    [
        "job_pending",
        "job_start",
        "job_stopped",
        "model_downloading",
        "model_download_complete",
        "training_data_downloading",
        "training_data_download_complete",
        "validation_data_downloading",
        "validation_data_download_complete",
        "wandb_init",
        "training_start",
        "checkpoint_save",
        "billing_limit",
        "epoch_complete",
        "training_complete",
        "model_compressing",
        "model_compression_complete",
        "model_uploading",
        "model_upload_complete",
        "job_complete",
        "job_error",
        "cancel_requested",
        "job_restarted",
        "refund",
        "warning",
        "early_stopped",
        "tokenized_dataset_upload_complete",
        "eval_complete",
        "model_uploading_to_hf",
        "model_upload_to_hf_complete",
        "job_user_error",
    ]
)


def undeclared(obj: Any, path: str = "$") -> list[str]:
    """Paths of every field that parsed into ``model_extra``, in ``obj`` and all models nested in it."""
    found: list[str] = []
    if isinstance(obj, BaseModel):
        found += [f"{path}.{key}" for key in obj.model_extra or {}]
        for name in type(obj).model_fields:
            found += undeclared(getattr(obj, name), f"{path}.{name}")
    elif isinstance(obj, list | tuple):
        for i, item in enumerate(obj):
            found += undeclared(item, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for key, item in obj.items():
            found += undeclared(item, f"{path}.{key}")
    return found


def parse(model: type[M], response: httpx2.Response, status: int = 200) -> M:
    """The answer as ``model``, asserting its status and that every field it carries is declared."""
    assert response.status_code == status, response.text
    parsed = model.model_validate(response.json())
    extra = undeclared(parsed)
    assert not extra, f"{response.request.method} {response.request.url.path}: undeclared {extra}"
    return parsed


def sse_chunks(response: httpx2.Response) -> list[CompletionChunk]:
    assert response.status_code == 200, response.text
    lines = [line.removeprefix("data: ") for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines and lines[-1] == "[DONE]", response.text
    chunks = [CompletionChunk.model_validate(json.loads(line)) for line in lines[:-1]]
    for i, chunk in enumerate(chunks):
        assert not undeclared(chunk), (i, undeclared(chunk))
        assert chunk.error is None, chunk.error
    return chunks


async def wait_ready(client: httpx2.AsyncClient, ep_id: str, dep_id: str) -> Deployment:
    """The deployment once it leaves PROVISIONING, parsed."""
    await wait_deployment(client, ep_id, dep_id)
    return parse(Deployment, await client.get(f"{P}/endpoints/{ep_id}/deployments/{dep_id}"))


@pytest.mark.anyio
@pytest.mark.slow
async def test_every_engine_answer_parses_into_the_client_models(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, _state = engine

    # ---- identity and the catalogue -------------------------------------------------------------
    me = parse(Whoami, await client.get("/v3/whoami"))
    assert me.type == "project_api_key" and me.project is not None and me.project.id == PID
    assert me.project.slug == "local"
    page = parse(SupportedModelPage, await client.get("/v2/supported-models", params={"limit": 5}))
    assert page.data and page.next_cursor and all(m.model_name and m.products for m in page.data)
    one = parse(SupportedModel, await client.get(f"/v2/supported-models/{TEMPLATE}"))
    assert one.model_name == TEMPLATE and one.context
    limits = parse(
        FinetuneModelLimits, await client.get("/v1/fine-tunes/models/limits", params={"model_name": TEMPLATE})
    )
    assert limits.model_name == TEMPLATE and limits.lora_training and limits.lora_training.max_rank

    # ---- files: the SDK's three-step upload, the one-step upload, reads ---------------------------
    train = FileObject.model_validate(await upload(client, overfit_bytes))
    assert not undeclared(train)
    assert train.is_ready and train.validation_report and train.validation_report.valid
    assert train.validation_report.nlines == 16 and train.bytes == len(overfit_bytes) and train.created_at
    bad_bytes = b'{"nothing": "to train on"}\n'
    form = {"purpose": (None, "fine-tune"), "file": ("bad.jsonl", bad_bytes)}
    bad = parse(FileObject, await client.post("/v1/files/upload", files=form))
    bad = FileObject.model_validate(await wait_file(client, bad.id))
    assert not undeclared(bad)
    assert bad.is_rejected and bad.validation_report and bad.validation_report.error
    files = parse(FileList, await client.get("/v1/files"))
    assert {f.id for f in files.data} == {train.id, bad.id}
    assert parse(FileObject, await client.get(f"/v1/files/{train.id}")).filename == "train.jsonl"
    checksum = hashlib.sha256(overfit_bytes).hexdigest()
    again = {"purpose": "fine-tune", "file_name": "again.jsonl", "file_type": "jsonl", "checksum": checksum}
    duplicate = parse(
        ErrorBody, await client.post("/v1/files", files={k: (None, v) for k, v in again.items()}), 409
    )
    assert duplicate.file_id == train.id and duplicate.text

    # ---- price estimates --------------------------------------------------------------------------
    estimate_body = {"training_file": train.id, "model": TEMPLATE, "n_epochs": 3}
    estimate = parse(PriceEstimate, await client.post("/v1/fine-tunes/estimate-price", json=estimate_body))
    assert estimate.estimation_available and estimate.allowed_to_proceed
    assert estimate.estimated_train_token_count and estimate.estimated_total_price == 0
    exact = parse(
        PriceEstimate,
        await client.post(
            "/v1/fine-tunes/estimate-price", json={**estimate_body, "from_hf_model": str(tiny_model)}
        ),
    )
    assert exact.token_count_method == "tokenizer" and exact.estimated_train_token_count
    refused = parse(
        PriceEstimate,
        await client.post("/v1/fine-tunes/estimate-price", json={**estimate_body, "training_file": bad.id}),
    )
    assert refused.estimation_available is False and refused.unavailable_reason == "train_file_invalid"

    # ---- a tiny LoRA job, to completion ---------------------------------------------------------
    created = parse(
        FinetuneResponse,
        await client.post(
            "/v1/fine-tunes", json=job_body(train.id, tiny_model, n_epochs=1, n_checkpoints=1, suffix="drift")
        ),
    )
    # The runner may claim the job between the create's commit and its answer: running is fine too.
    assert created.status in ("pending", "queued", "running") and created.created_at and created.output_model
    assert created.training_type and created.training_type.is_lora and created.lr_scheduler
    done = FinetuneResponse.model_validate(await wait_job(client, created.id, timeout=180))
    assert not undeclared(done)
    assert done.status == "completed" and done.is_terminal, done.error
    assert done.steps_completed and done.steps_completed == done.total_steps and done.epochs_completed == 1
    assert done.token_count and done.param_count and done.price_usd == 0
    assert done.started_at and done.updated_at and done.progress is not None
    assert done.model_object_id and done.model_object_revision_id and done.model_object_name
    assert done.adapter_object_id and done.adapter_object_revision_id and done.adapter_output_name
    assert done.from_hf_model == str(tiny_model) and done.batch_size == 4
    jobs = parse(FinetuneList, await client.get("/v1/fine-tunes"))
    assert [j.id for j in jobs.data] == [done.id]
    events = parse(FinetuneEventList, await client.get(f"/v1/fine-tunes/{done.id}/events"))
    types = [e.type for e in events.data]
    assert types[0] == "job_pending" and "job_complete" in types, types
    assert set(types) <= KNOWN_EVENT_TYPES, set(types) - KNOWN_EVENT_TYPES
    assert all(e.created_at and e.message is not None and e.severity for e in events.data)
    checkpoints = parse(FinetuneCheckpointList, await client.get(f"/v1/fine-tunes/{done.id}/checkpoints"))
    assert checkpoints.data and all(c.step is not None and c.path and c.checkpoint for c in checkpoints.data)
    assert any(c.checkpoint_type == "Final" for c in checkpoints.data)
    assert {c.checkpoint for c in checkpoints.data} <= {"model", "adapter"}
    metrics = parse(FinetuneMetrics, await client.get(f"/v1/fine-tunes/{done.id}/metrics"))
    losses = metrics.series("train/loss")
    assert losses and losses[-1][0] == done.total_steps
    sampled = parse(FinetuneMetrics, await client.get(f"/v1/fine-tunes/{done.id}/metrics?resolution=2"))
    assert len(sampled.metrics) == 2

    # ---- the registry, configs and hardware -----------------------------------------------------
    registry = parse(RegistryModelList, await client.get(f"{P}/models"))
    assert {done.model_object_id, done.adapter_object_id} <= {m.id for m in registry.data}
    merged = parse(RegistryModel, await client.get(f"{P}/models/{done.model_object_id}"))
    adapter = parse(RegistryModel, await client.get(f"{P}/models/{done.adapter_object_id}"))
    assert merged.name == done.model_object_name and merged.project_id == PID and merged.created_at
    assert merged.weights and merged.weights.parameters and merged.weights.parameters.total
    assert adapter.weights and adapter.weights.is_adapter and adapter.base_model_id
    revisions = parse(ModelRevisionList, await client.get(f"{P}/models/{merged.id}/revisions"))
    assert done.model_object_revision_id in {r.rid for r in revisions.data}
    model_files = parse(
        ModelFileList,
        await client.get(
            f"{P}/models/{merged.id}/files", params={"revisionId": done.model_object_revision_id}
        ),
    )
    assert model_files.revision_id == done.model_object_revision_id and model_files.total_size_bytes
    assert any(f.path == "config.json" and f.size_bytes for f in model_files.data)
    configs = parse(
        ServingConfigList, await client.get(f"{P}/configs", params={"referenceModel": merged.resource_name()})
    )
    cpu = next(c for c in configs.data if c.id == "cr_local_cpu")
    assert cpu.reference_model_id == merged.id and cpu.instance_type
    assert parse(ServingConfig, await client.get(f"{P}/configs/{cpu.id}")).selectors
    hardware = parse(InstanceTypeList, await client.get("/v2/public/inference-instance-types"))
    assert hardware.data and hardware.data[0].name and hardware.data[0].price_cents_per_hour == 0
    one_type = parse(
        InstanceType, await client.get(f"/v2/public/inference-instance-types/{hardware.data[0].id}")
    )
    assert one_type.usd_per_hour == 0

    # ---- an endpoint with a deployment of the job's merged model ----------------------------------
    endpoint = parse(Endpoint, await client.post(f"{P}/endpoints", json={"name": "drift"}))
    assert endpoint.name == "local/drift" and endpoint.etag and endpoint.traffic_split == []
    deploy_body = {
        "name": "d1",
        "model": merged.resource_name(done.model_object_revision_id),
        "config": cpu.resource_name,
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
        "inactiveTimeout": 60,
        "maxConcurrentRequestsPerReplica": "4",
    }
    dep = parse(Deployment, await client.post(f"{P}/endpoints/{endpoint.id}/deployments", json=deploy_body))
    assert dep.name == "local/drift/d1" and dep.model == deploy_body["model"] and dep.etag
    ready = await wait_ready(client, endpoint.id, dep.id)
    assert ready.status is not None and ready.status.is_ready, ready.status
    assert ready.status.ready_replicas == 1 and ready.hardware and ready.runtime_info
    assert ready.autoscaling and ready.autoscaling.min_replicas == 1 and ready.inactive_timeout == 60
    routed = parse(Endpoint, await client.get(f"{P}/endpoints/{endpoint.id}"))
    assert [t.deployment_id for t in routed.traffic_split] == [dep.id]
    summary = routed.deployments[0]
    assert summary.state == "DEPLOYMENT_STATE_READY" and summary.estimated_effective_traffic_share == 1.0
    split = {"etag": routed.etag, "trafficSplit": [{"deploymentId": dep.id, "weight": 1}]}
    patched = parse(
        Endpoint, await client.patch(f"{P}/endpoints/{endpoint.id}?updateMask=trafficSplit", json=split)
    )
    assert patched.etag != routed.etag
    listed = parse(EndpointList, await client.get(f"{P}/endpoints"))
    assert [e.id for e in listed.data] == [endpoint.id]
    deployments = parse(DeploymentList, await client.get(f"{P}/endpoints/{endpoint.id}/deployments"))
    assert [d.id for d in deployments.data] == [dep.id]
    updated = parse(
        Deployment,
        await client.patch(
            f"{P}/endpoints/{endpoint.id}/deployments/{dep.id}",
            json={"etag": ready.etag, "inactiveTimeout": 90},
        ),
    )
    assert updated.inactive_timeout == 90 and updated.etag != ready.etag

    # ---- inference: chat and text, whole and streamed -------------------------------------------
    chat_body = {
        "model": routed.name,
        "messages": [{"role": "user", "content": "What do bees make?"}],
        "max_tokens": 4,
        "temperature": 0,
    }
    chat = parse(ChatCompletion, await client.post("/v1/chat/completions", json=chat_body))
    assert chat.text is not None and chat.choices[0].finish_reason and chat.usage and chat.usage.total_tokens
    text_body = {"model": dep.name, "prompt": "Bees make", "max_tokens": 4, "temperature": 0}
    text = parse(TextCompletion, await client.post("/v1/completions", json=text_body))
    assert text.choices and text.choices[0].text is not None and text.usage and text.usage.completion_tokens
    streamed = sse_chunks(await client.post("/v1/chat/completions", json={**chat_body, "stream": True}))
    assert streamed[0].object == "chat.completion.chunk" and streamed[-1].usage is not None
    assert streamed[-1].choices[0].finish_reason
    streamed_text = sse_chunks(await client.post("/v1/completions", json={**text_body, "stream": True}))
    assert streamed_text[-1].usage is not None and streamed_text[-1].finish_reason
    assert "".join(c.text for c in streamed_text) == "".join(c.token.text for c in streamed_text if c.token)

    # ---- LoRA attach mode: the job's adapter on a deployment of the base it was trained on --------------
    base_configs = parse(
        ServingConfigList,
        await client.get(f"{P}/configs", params={"referenceModelId": adapter.base_model_id}),
    )
    dynamic = next(c for c in base_configs.data if c.selector("adapter_mode") == "dynamic")
    base_body = {
        "name": "base",
        "model": f"projects/{PID}/models/{adapter.base_model_id}",
        "config": dynamic.resource_name,
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
    }
    base_dep = parse(
        Deployment, await client.post(f"{P}/endpoints/{endpoint.id}/deployments", json=base_body)
    )
    assert base_dep.config_id == dynamic.id
    base_ready = await wait_ready(client, endpoint.id, base_dep.id)
    assert base_ready.status is not None and base_ready.status.is_ready, base_ready.status
    adapters_url = f"{P}/endpoints/{endpoint.id}/deployments/{base_dep.id}/adapters"
    attached = parse(DeploymentAdapter, await client.post(adapters_url, json={"adapterModelId": adapter.id}))
    assert attached.id.startswith("dad_") and attached.etag and attached.per_cluster
    assert attached.desired_revision_id == done.adapter_object_revision_id

    async def loaded() -> DeploymentAdapter | None:
        got = parse(DeploymentAdapter, await client.get(f"{adapters_url}/{attached.id}"))
        return got if got.state in ("ADAPTER_LOAD_STATE_READY", "ADAPTER_LOAD_STATE_FAILED") else None

    attached = await until(loaded, f"adapter {attached.id} to load")
    assert attached.state == "ADAPTER_LOAD_STATE_READY", attached.per_cluster
    assert attached.per_cluster[0].loaded_at and attached.per_cluster[0].realized_revision_id
    assert [a.id for a in parse(DeploymentAdapterList, await client.get(adapters_url)).data] == [attached.id]
    assert adapter.name
    by_adapter = parse(
        TextCompletion, await client.post("/v1/completions", json={**text_body, "model": adapter.name})
    )
    assert by_adapter.model == adapter.name and by_adapter.usage and by_adapter.usage.completion_tokens
    no_etag = parse(ErrorBody, await client.delete(f"{adapters_url}/{attached.id}"), 400)
    assert no_etag.error and no_etag.error.param == "etag"
    detached = await client.delete(f"{adapters_url}/{attached.id}", params={"etag": attached.etag})
    assert detached.status_code == 200 and detached.json() == {}

    feed = parse(EndpointEventList, await client.get(f"{P}/endpoints/{endpoint.id}/events"))
    kinds = {e.type for e in feed.data}
    assert {"endpoint.created", "deployment.created"} <= kinds, kinds
    assert all(e.id and e.created_at and e.source_kind for e in feed.data)
    assert {e.level for e in feed.data} <= {"LEVEL_DEBUG", "LEVEL_INFO", "LEVEL_WARN", "LEVEL_ERROR"}

    # ---- error answers ---------------------------------------------------------------------------
    for path in ("/v1/fine-tunes/ft-nope", "/v1/files/file-nope", f"{P}/endpoints/ep_nope", "/v9/nothing"):
        missing = parse(ErrorBody, await client.get(path), 404)
        assert missing.error and missing.error.message and missing.error.type, path
    unknown = parse(
        ErrorBody, await client.get("/v1/fine-tunes/models/limits", params={"model_name": "no/such"}), 404
    )
    assert unknown.message and unknown.error and unknown.error.param == "model_name"
    not_cancellable = parse(ErrorBody, await client.post(f"/v1/fine-tunes/{done.id}/cancel"), 400)
    assert not_cancellable.error and not_cancellable.error.param == "id"
    invalid = parse(
        ErrorBody, await client.post("/v1/fine-tunes", json={"training_file": train.id, "n_epochs": 0}), 400
    )
    assert invalid.error and invalid.error.param == "n_epochs"
    stale = parse(
        ErrorBody,
        await client.patch(f"{P}/endpoints/{endpoint.id}", json={"etag": routed.etag, "name": "other"}),
        409,
    )
    assert stale.error and stale.error.code == "etag_mismatch"

    # ---- deletes -----------------------------------------------------------------------------------
    assert parse(DeleteResult, await client.delete(f"/v1/files/{bad.id}")).deleted
    assert parse(DeleteResult, await client.delete(f"/v1/fine-tunes/{done.id}")).deleted


# ---- the cloud's odd records, without the engine ------------------------------------------------------


def test_legacy_job_list_records_still_parse() -> None:
    """Old jobs: missing fields, an unknown status, ``batch_size: "max"``, odd timestamps, a string error."""
    legacy = [
        {"id": "ft-old", "status": "COMPRESSING", "batch_size": "max", "created_at": "not a date"},
        {"id": "ft-older"},
        {
            "id": "ft-x",
            "status": "error",
            "error": "Training failed",
            "lr_scheduler": {"lr_scheduler_type": ""},
            "total_price": 2_500_000_000,
            "TrainingFileNumLines": 10,
            "events": ["queued", {"type": "JOB_ERROR", "level": "Error", "message": "x", "created_at": 0}],
            "future_field": {"nested": True},
        },
    ]
    for body in (legacy, {"data": legacy}, {"object": "list", "data": legacy}):
        jobs = FinetuneList.model_validate(body).data
        assert [j.id for j in jobs] == ["ft-old", "ft-older", "ft-x"]
        old, older, failed = jobs
        assert old.status == "compressing" and not old.is_terminal and old.batch_size == "max"
        assert old.created_at is None and older.status is None and older.is_lora is None
        assert failed.is_terminal and failed.error and failed.error.message == "Training failed"
        assert failed.price_usd == 2.5 and failed.trainingfile_numlines == 10
        assert failed.model_extra == {"future_field": {"nested": True}}  # kept, not refused
        event = failed.events[1] if failed.events else None
        assert isinstance(event, BaseModel) and event.type == "job_error" and event.severity == "error"


def test_camel_and_snake_spellings_both_parse() -> None:
    body = {"id": "dep_1", "endpointId": "ep_1", "status": {"state": "DEPLOYMENT_STATE_READY", "message": ""}}
    assert Deployment.model_validate(body).endpoint_id == "ep_1"
    assert Deployment.model_validate({"id": "dep_1", "endpoint_id": "ep_1"}).endpoint_id == "ep_1"
    assert Deployment.model_validate(body).state == "DEPLOYMENT_STATE_READY"
    limits_404 = ErrorBody.model_validate({"message": "model not found: x"})
    assert (
        limits_404.text == "model not found: x" and ErrorBody.model_validate({"error": "boom"}).text == "boom"
    )


def test_undeclared_finds_extras_in_nested_models_lists_and_dicts() -> None:
    endpoint = Endpoint.model_validate(
        {
            "id": "ep_1",
            "surprise": 1,
            "deployments": [{"id": "dep_1", "autoscaling": {"minReplicas": 1, "x": 2}}],
        }
    )
    assert undeclared(endpoint) == ["$.surprise", "$.deployments[0].autoscaling.x"]
