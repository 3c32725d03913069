"""``GET /v1/finetune/download``: a job's weights as a .tar.gz (the SDK's ``fine_tuning.content``).

Query (ref together-api-2026-11 §2.1): ``ft_id`` (required), ``checkpoint`` ∈ merged | adapter |
model_output_path, ``checkpoint_step`` (0 or absent: the final outputs). The archive is built once
per (kind, step) under the job dir and served with Range support (the CLI resumes downloads).
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from byom.engine.state import engine_of
from byom.errors import InvalidRequest, NotFound

__all__ = ["routes"]

_KINDS = ("merged", "adapter", "model_output_path")


def _weights_dir(state: Any, job: Any, kind: str | None, step: int) -> tuple[Path, str]:
    """The directory to archive and a name for it."""
    job_id = job["id"]
    if step:
        rows = state.db.query("SELECT * FROM job_checkpoints WHERE job_id = ? AND step = ?", (job_id, step))
        rows = [r for r in rows if Path(r["path"]).is_dir()]
        if not rows:
            raise NotFound(
                f"Job {job_id} has no checkpoint at step {step}. See its checkpoints list.",
                param="checkpoint_step",
            )
        return Path(rows[0]["path"]), f"{kind or rows[0]['checkpoint']}-step-{step}"
    if job["status"] != "completed":
        raise InvalidRequest(
            f"Job {job_id} is {job['status']}; its final weights exist once it completes. Pass checkpoint_step for a saved checkpoint.",
            param="ft_id",
        )
    outputs = json.loads(job["outputs"] or "{}")
    if kind is None:
        raise InvalidRequest(
            f"Query 'checkpoint' is required without checkpoint_step: one of {', '.join(_KINDS)}.",
            param="checkpoint",
        )
    # A full job has only model_output_path; a LoRA job has merged and adapter (model_output_path = merged).
    available = {
        "merged": outputs.get("merged"),
        "adapter": outputs.get("adapter"),
        "model_output_path": outputs.get("model") or outputs.get("merged"),
    }
    path = available[kind]
    if not path or not Path(path).is_dir():
        have = ", ".join(k for k, v in available.items() if v) or "none"
        raise InvalidRequest(f"Job {job_id} has no '{kind}' output. Available: {have}.", param="checkpoint")
    return Path(path), kind


def _archive(source: Path, dest: Path) -> Path:
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tmp")
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(source, arcname=dest.name.removesuffix(".tar.gz"))
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return dest


async def download(request: Request) -> Response:
    state = engine_of(request)
    q = request.query_params
    job_id = q.get("ft_id", "").strip()
    if not job_id:
        raise InvalidRequest("Query 'ft_id' (the fine-tune job id) is required.", param="ft_id")
    kind = q.get("checkpoint") or None
    if kind is not None and kind not in _KINDS:
        raise InvalidRequest(f"checkpoint must be one of {', '.join(_KINDS)}.", param="checkpoint")
    try:
        step = int(q.get("checkpoint_step") or 0)
    except ValueError:
        raise InvalidRequest(
            "checkpoint_step must be an integer (0 or absent: final weights).", param="checkpoint_step"
        ) from None
    job = state.db.one("SELECT * FROM jobs WHERE id = ?", (job_id,))
    if job is None:
        raise NotFound(
            f"Fine-tune job '{job_id}' not found. List jobs with GET /v1/fine-tunes.", param="ft_id"
        )
    source, label = _weights_dir(state, job, kind, step)
    name = f"{job['model_output_name'].split('/')[-1]}-{label}.tar.gz"
    job_dir = Path(json.loads(job["spec"])["job_dir"])
    archive = await run_in_threadpool(_archive, source, job_dir / "exports" / name)
    return FileResponse(archive, media_type="application/x-tar+gzip", filename=name)


routes = [Route("/v1/finetune/download", download, methods=["GET"])]
