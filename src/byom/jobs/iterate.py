"""Iterate: the create_finetune call that trains on from a completed job's output.

the local engine  its final model directory (the merged weights of a LoRA job, the model of a full one), as
                  the job_complete event names it, becomes the next job's from_hf_model on the same base
Together          from_checkpoint=<job id> continues its final checkpoint; a job that pushed its weights to
                  the Hub (hf_output_repo_name) can also be the next job's from_hf_model
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from byom.backend import Backend
from byom.errors import ByomError

if TYPE_CHECKING:
    from byom.together import FinetuneEvent, FinetuneResponse

__all__ = ["continuation", "continue_call"]

_NEXT_DATA = "training_file=<the next data>"


def continue_call(job: FinetuneResponse, events: list[FinetuneEvent], *, local: bool) -> str | None:
    """The call that continues training from ``job``'s output; None until it completed."""
    if job.status != "completed":
        return None
    if local:
        # The engine's own event names the directory (its data dir, which it may read from): never a stranger's.
        done = next((e for e in reversed(events) if e.type == "job_complete" and e.model_path), None)
        if done is not None:
            return f"create_finetune(from_hf_model={done.model_path!r}, model={job.model!r}, {_NEXT_DATA})"
    return (
        f"create_finetune(from_checkpoint={job.id!r}, {_NEXT_DATA}) (or, if it pushed its weights to the Hub with "
        "hf_output_repo_name, from_hf_model=<that repo>)"
    )


async def continuation(backend: Backend, job_id: str) -> str | None:
    """``continue_call`` for a job, fetched from the backend; None when the backend cannot say now (a hint that
    follows a done deed, such as a deploy, never turns it into a failure)."""
    client = backend.client
    try:
        job = await client.retrieve_finetune(job_id)
        if job.status != "completed":
            return None
        events = await client.finetune_events(job_id)
    except ByomError:
        return None
    return continue_call(job, events, local=backend.kind == "local")
