"""ask_model: one prompt to a fine-tuned model, bounded in time and size, wherever it is served.

    model=…                      → the backend's /v1/chat/completions with that name: an endpoint (Together or
                                   the engine); on the local engine also a finished job's output name
    job_id=… on the local engine → the job itself: the engine loads its weights on demand (no deployment)
    job_id=… on Together         → the job's output model, which answers only where an endpoint serves it
    job_id=…, where="local", on Together → trylocal: fit check, the download (in the background), then the
                                   local engine serves the downloaded weights on demand (no endpoint, no charge)

A model still loading on the engine answers ``model_loading`` (503): polled until the time budget is spent,
then the result says "still loading, call again". Nothing here creates anything billed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from byom.backend import Backend
from byom.endpoints.trylocal import FetchPlan, LocalWeights, fetch_plan
from byom.errors import ByomError, ModelLoading, PreflightError, TogetherAPIError
from byom.untrusted import ANSWER_CHARS, clip

__all__ = ["MAX_ANSWER_TOKENS", "AskArgs", "AskResult", "ask"]

MAX_ANSWER_TOKENS = 1024  # a chat answer, not a document: keeps a CPU generation inside one tool call
MAX_PROMPT_CHARS = 20_000  # a prompt to try a model with; the engine still checks the model's context
MAX_MESSAGES = 50
_POLL_S = 2.0
_LOADING = ModelLoading.CODE
_NOT_SERVED = ("model_not_available", "dedicated_endpoint_not_running")

Progress = Callable[[float, float | None, str], Awaitable[None]]


class AskArgs(BaseModel):
    """ask_model's arguments: one target (model or job_id) and one input (prompt or messages)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = None
    job_id: str | None = None
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    messages: list[dict[str, str]] | None = Field(default=None, max_length=MAX_MESSAGES)
    max_tokens: int = Field(default=256, ge=1, le=MAX_ANSWER_TOKENS)
    temperature: float = Field(default=0.7, ge=0, le=2)
    where: Literal["auto", "local"] = "auto"

    @model_validator(mode="after")
    def _one_each(self) -> AskArgs:
        if (self.model is None) == (self.job_id is None):
            raise ValueError("give exactly one of model (an endpoint or model name) and job_id (ft-…)")
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt and messages")
        return self

    def chat(self) -> list[dict[str, str]]:
        return (
            self.messages if self.messages is not None else [{"role": "user", "content": self.prompt or ""}]
        )


class AskResult(BaseModel):
    status: Literal["answered", "loading", "downloading"]
    model: str  # the name the completion was sent to
    served_by: str
    answer: str | None = None  # the model's words, clipped: untrusted text
    finish_reason: str | None = None
    latency_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    download: FetchPlan | None = None
    note: str = ""


async def ask(
    args: AskArgs,
    *,
    backend: Backend,
    local: Callable[[], Awaitable[Backend]],
    weights: LocalWeights,
    budget_s: float,
    progress: Progress,
) -> AskResult:
    """Send ``args`` to its model and return the answer, or say what is still loading within ``budget_s``."""
    deadline = anyio.current_time() + budget_s
    if args.where == "local":
        if args.job_id is None:
            raise PreflightError(
                "where='local' tries a Together fine-tune here and takes job_id (ft-…); with a model name, call "
                "ask_model(model=…) without where."
            )
        if backend.kind == "together":
            return await _ask_downloaded(
                args, args.job_id, backend, await local(), weights, deadline, progress
            )
    if backend.kind == "local":  # a job id or output name: served on demand by the engine itself
        name = args.model or args.job_id or ""
        return await _complete(backend, name, "the local engine", args, deadline, progress)
    if args.job_id is None:
        return await _complete(backend, args.model or "", "Together", args, deadline, progress)
    job = await backend.client.retrieve_finetune(args.job_id)
    output = job.output_model
    if job.status != "completed" or not output:
        raise PreflightError(f"Job {args.job_id} is {job.status}; ask it once it has completed.")
    name = output
    try:
        return await _complete(backend, name, "Together", args, deadline, progress)
    except TogetherAPIError as exc:
        if exc.code in _NOT_SERVED or exc.status_code == 404:
            raise PreflightError(
                f"No running endpoint serves {name} on Together (serverless LoRA inference is discontinued). "
                f"Try it here for free with ask_model(job_id={args.job_id!r}, where='local'), or serve it on "
                "Together with deploy_endpoint (billed per minute)."
            ) from exc
        raise


async def _ask_downloaded(
    args: AskArgs,
    job_id: str,
    together: Backend,
    local: Backend,
    weights: LocalWeights,
    deadline: float,
    progress: Progress,
) -> AskResult:
    plan = await fetch_plan(together, local, job_id, weights.cache_root)
    await progress(0, None, plan.summary)
    fetch = weights.start(together, plan)
    with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
        while not fetch.done.is_set():
            with anyio.move_on_after(_POLL_S):
                await fetch.done.wait()
            await progress(fetch.received, fetch.total, f"Downloading job {job_id}'s weights")
    if not fetch.done.is_set():
        got = f"{fetch.received / 1e9:.2f}" + (f" of {fetch.total / 1e9:.2f}" if fetch.total else "")
        return AskResult(
            status="downloading",
            model=job_id,
            served_by="the local engine",
            download=plan,
            note=f"Still downloading ({got} GB). Call ask_model again with the same arguments to continue.",
        )
    if fetch.error is not None:
        if isinstance(fetch.error, ByomError):
            raise fetch.error
        raise TogetherAPIError(f"Downloading job {job_id}'s weights failed: {fetch.error}. Call again.")
    assert fetch.path is not None
    result = await _complete(local, str(fetch.path), "the local engine", args, deadline, progress)
    return result.model_copy(update={"download": plan, "model": job_id})


async def _complete(
    backend: Backend, name: str, label: str, args: AskArgs, deadline: float, progress: Progress
) -> AskResult:
    """One completion; a model loading on demand is polled until ``deadline``."""
    waited = 0
    while True:
        left = deadline - anyio.current_time()
        started = anyio.current_time()
        try:
            with anyio.fail_after(max(left, 0.1)):
                reply = await backend.client.chat_completion(
                    name, args.chat(), max_tokens=args.max_tokens, temperature=args.temperature
                )
        except TimeoutError:
            raise TogetherAPIError(
                f"{name} gave no answer within {max(left, 0):.0f} s. Ask for fewer max_tokens, or call again."
            ) from None
        except TogetherAPIError as exc:
            if exc.code != _LOADING:
                raise
            waited += 1
            if deadline - anyio.current_time() < _POLL_S:
                return AskResult(
                    status="loading",
                    model=name,
                    served_by=label,
                    note="The model is still loading on the local engine. Call ask_model again with the same "
                    "arguments in a few seconds.",
                )
            await progress(waited, None, f"Loading {name} on {label}")
            await anyio.sleep(_POLL_S)
            continue
        latency = anyio.current_time() - started
        usage = reply.usage
        choice = reply.choices[0] if reply.choices else None
        return AskResult(
            status="answered",
            model=name,
            served_by=label,
            answer=clip(reply.text or "", ANSWER_CHARS),
            finish_reason=choice.finish_reason if choice is not None else None,
            latency_s=round(latency, 2),
            prompt_tokens=usage.prompt_tokens if usage is not None else None,
            completion_tokens=usage.completion_tokens if usage is not None else None,
        )
