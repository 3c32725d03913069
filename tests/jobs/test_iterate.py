"""continue_call: which create_finetune call trains on from a completed job's output, per backend."""

from __future__ import annotations

from byom.jobs.iterate import continue_call
from byom.together import FinetuneEvent, FinetuneResponse

_DONE = FinetuneEvent(
    type="job_complete", message="Job complete.", model_path="/data/engine/jobs/ft-1/output/merged"
)


def test_the_local_engines_output_directory_is_the_next_from_hf_model() -> None:
    job = FinetuneResponse(id="ft-1", status="completed", model="Qwen/Qwen3-0.6B")
    assert continue_call(job, [_DONE], local=True) == (
        "create_finetune(from_hf_model='/data/engine/jobs/ft-1/output/merged', model='Qwen/Qwen3-0.6B', "
        "training_file=<the next data>)"
    )


def test_on_together_the_job_continues_from_its_checkpoint_or_its_hub_repo() -> None:
    job = FinetuneResponse(id="ft-1", status="completed", model="Qwen/Qwen3-0.6B")
    # Together's event paths are not this machine's: never offered as a directory.
    call = continue_call(job, [_DONE], local=False)
    assert call is not None and call.startswith("create_finetune(from_checkpoint='ft-1', training_file=")
    assert "hf_output_repo_name" in call and "/data/engine" not in call


def test_an_unfinished_job_has_no_continuation() -> None:
    job = FinetuneResponse(id="ft-1", status="running", model="Qwen/Qwen3-0.6B")
    assert continue_call(job, [_DONE], local=True) is None
