"""TogetherClient's methods against the real local engine in-process (ASGITransport, no network): a real
upload (progress, 409 dedupe, validation), one tiny LoRA job from estimate to metrics, a cancelled one, the
registry, configs, hardware and an endpoint's life."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2
import pytest

from byom.engine.app import create_app
from byom.engine.state import EngineState
from byom.errors import TogetherAPIError
from byom.together import FinetuneResponse, TogetherClient, check_request, finetune_request
from support.engine import BASE_URL, HANG_S, KEY, TEMPLATE
from support.poll import until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def _wait_terminal(client: TogetherClient, job_id: str) -> FinetuneResponse:
    async def ended() -> FinetuneResponse | None:
        job = await client.retrieve_finetune(job_id)
        return job if job.is_terminal else None

    return await until(ended, f"job {job_id} to end", interval=0.1)


async def test_the_client_drives_the_engine(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes, tmp_path: Path
) -> None:
    _, state = engine
    # A second app over the same state: the fixture's lifespan already runs its job runner.
    transport = httpx2.ASGITransport(app=create_app(state))
    async with TogetherClient(api_key=KEY, base_url=BASE_URL, transport=transport, max_retries=0) as client:
        me = await client.whoami()
        assert me.type == "project_api_key" and me.project is not None and me.project.id
        pid = me.project.id

        # ---- files: upload with progress, the same bytes again, validation -------------------------
        path = tmp_path / "train.jsonl"
        path.write_bytes(overfit_bytes)
        seen: list[tuple[int, int]] = []

        async def progress(sent: int, total: int) -> None:
            seen.append((sent, total))

        uploaded = await client.upload_file(path, progress=progress)
        assert uploaded.id and uploaded.filename == "train.jsonl"
        assert seen and seen[-1] == (len(overfit_bytes), len(overfit_bytes))
        assert [s for s, _ in seen] == sorted(s for s, _ in seen)
        started = time.monotonic()
        train = await client.wait_file(uploaded.id, timeout=HANG_S, interval=0.05)
        assert train.is_ready, (train.processing_status, time.monotonic() - started)
        assert train.validation_report and train.validation_report.nlines == 16
        again = tmp_path / "again.jsonl"
        again.write_bytes(overfit_bytes)
        assert (await client.upload_file(again)).id == train.id
        assert [f.id for f in await client.list_files()] == [train.id]

        # ---- one tiny LoRA job: check, estimate, create, follow -----------------------------------
        limits = await client.model_limits(TEMPLATE)
        request = finetune_request(
            training_file=train.id,
            model=TEMPLATE,
            limits=limits,
            from_hf_model=str(tiny_model),
            n_epochs=1,
            batch_size=8,
            learning_rate=1e-2,
            packing=False,
            lr_scheduler_type="linear",
            lora_r=8,
            suffix="client",
        )
        assert check_request(request, limits) == []
        estimate = await client.estimate_price(request)
        assert estimate.estimation_available and estimate.estimated_train_token_count
        assert estimate.token_count_method == "approximate"  # Together's body names no model to count with
        exact = await client.estimate_price(request, with_model=True)
        assert exact.token_count_method == "tokenizer"
        created = await client.create_finetune(request)
        assert created.status in ("pending", "queued", "running") and created.training_type
        done = await _wait_terminal(client, created.id)
        assert done.status == "completed", done.error
        # The engine's count with the model is what the job then reads: one token count (issue #17).
        assert done.token_count == exact.estimated_train_token_count
        assert [j.id for j in await client.list_finetunes()] == [done.id]
        types = [e.type for e in await client.finetune_events(done.id)]
        assert types[0] == "job_pending" and "job_complete" in types
        checkpoints = await client.finetune_checkpoints(done.id)
        assert any(c.checkpoint_type == "Final" for c in checkpoints)
        losses = (await client.finetune_metrics(done.id)).series("train/loss")
        assert losses and losses[-1][0] == done.total_steps
        with pytest.raises(TogetherAPIError) as info:
            await client.cancel_finetune(done.id)
        assert info.value.status_code == 400 and "already ended" in str(info.value)

        # ---- a second job, cancelled --------------------------------------------------------------
        doomed = await client.create_finetune(request)
        cancelled = await client.cancel_finetune(doomed.id)
        assert cancelled.status in ("cancel_requested", "cancelled")
        assert (await _wait_terminal(client, doomed.id)).status == "cancelled"
        assert [j.id for j in await client.list_finetunes()] == [doomed.id, done.id]  # newest first

        # ---- registry, configs, hardware ----------------------------------------------------------
        assert done.model_object_id
        merged = await client.retrieve_model(pid, done.model_object_id)
        assert merged.name == done.model_object_name
        configs = await client.list_configs(pid, reference_model=merged.resource_name())
        assert any(c.id == "cr_local_cpu" for c in configs)
        hardware = await client.list_instance_types()
        assert hardware and all(h.name for h in hardware)

        # ---- an endpoint's life (no deployment: that loads a model) ------------------------------
        endpoint = await client.create_endpoint(pid, "client-ep")
        assert endpoint.name and endpoint.name.endswith("/client-ep") and endpoint.traffic_split == []
        assert [e.id for e in await client.list_endpoints(pid, name=endpoint.name)] == [endpoint.id]
        assert (await client.retrieve_endpoint(pid, endpoint.id)).etag == endpoint.etag
        assert isinstance(await client.endpoint_events(pid, endpoint.id), list)
        assert await client.list_deployments(pid, endpoint.id) == []
        with pytest.raises(TogetherAPIError) as info:
            await client.create_endpoint(pid, "client-ep")
        assert info.value.status_code == 409
        await client.delete_endpoint(pid, endpoint.id, etag=endpoint.etag)
        assert await client.list_endpoints(pid) == []
