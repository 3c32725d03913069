"""One chat answer from a model the engine serves: route, encode, generate — blocking, for any caller.

The inference routes (``inference.py``) run these steps in worker threads under the model's limiter; the
evaluation runner (``engine/evals``) calls ``chat_answer`` from its own thread. Concurrent generations of one
model, from either, are batched by ``LoadedModel.generate`` (``batching.py``). Both reach a model through
``DeployRuntime.resolve`` and fail the same way: a prompt the model cannot take is an ``InvalidRequest``, an
adapter detached meanwhile a ``NotFound``, any other generation error a one-line ``server_error``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from byom.engine.deploy.host import AdapterGone, Generation, SamplingParams
from byom.engine.deploy.runtime import DeployRuntime, Target
from byom.errors import EngineError, InvalidRequest, NotFound, root_error_line

__all__ = ["MAX_TOKENS_CAP", "chat_answer", "encode_prompt", "route", "run_generation"]

log = logging.getLogger("byom.engine.deploy.inference")

P = TypeVar("P")

MAX_TOKENS_CAP = 4096  # a local engine on a laptop: keep one request from holding the model for hours


# How long an evaluation waits for a model the engine loads on demand (the HTTP routes never wait: 503).
LOAD_WAIT_S = 600.0


def route(runtime: DeployRuntime, model: str, *, wait_s: float = 0.0) -> Target:
    """The deployment (or on-demand model) that ``model`` reaches, marked as used now (auto-stop counts from
    here). ``wait_s``: block that long while an on-demand model loads (worker threads only)."""
    target = runtime.resolve(model, wait_s=wait_s)
    if target.deployment is not None:  # one served on demand stamps its own last use
        runtime.touch(str(target.deployment["id"]))
    return target


def encode_prompt(target: Target, encode: Callable[[P], list[int]], prompt: P) -> list[int]:
    """Token ids of ``prompt`` by ``encode`` (the model's chat or text encoder), checked against its context."""
    try:
        ids = encode(prompt)
    except EngineError as exc:
        raise InvalidRequest(str(exc), param="messages") from None
    if len(ids) >= target.model.context_length:
        raise InvalidRequest(
            f"The prompt is {len(ids)} tokens; this model's context is {target.model.context_length}. "
            "Shorten the prompt.",
            code="context_length_exceeded",
        )
    return ids


def run_generation(target: Target, ids: list[int], params: SamplingParams) -> Generation:
    """Generate from prompt ids on ``target`` (blocking), its adapter active when it has one."""
    try:
        return target.model.generate(ids, params, target.adapter)
    except AdapterGone as exc:  # detached between routing and generation
        raise NotFound(str(exc), code="model_not_available", param="model") from None
    except Exception as exc:  # noqa: BLE001 - a generation error is the server's fault, told in one line
        log.warning("generation failed: %s", root_error_line(exc))
        raise EngineError(f"Generation failed: {root_error_line(exc)}", type="server_error") from None


def chat_answer(
    runtime: DeployRuntime, model: str, messages: list[dict[str, str]], params: SamplingParams
) -> Generation:
    """The answer of served ``model`` to chat ``messages`` (blocking; waits for an on-demand model to load)."""
    target = route(runtime, model, wait_s=LOAD_WAIT_S)
    ids = encode_prompt(target, target.model.encode_chat, messages)
    return run_generation(target, ids, params)
