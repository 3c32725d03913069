"""Inference: ``POST /v1/chat/completions`` and ``POST /v1/completions`` on deployed models.

``model`` is an endpoint name (routed by its trafficSplit) or a deployment name (pinned), as on
Together (ref together-api-2026-11 §4.3); a finished job's id or output name, a registry model or an allowed
model directory, served on demand (``runtime.py``: 503 ``model_loading`` until loaded); or the registry name of an attached LoRA adapter
(``<slug>/<name>``, e.g. ``local/my-ft-adapter``): the API documents no inference name for an attached adapter
(ref §7 #2), so the engine uses the adapter model's own name, and it reaches a READY deployment it is loaded on,
generating with that adapter active. An endpoint of the same name wins. Responses are OpenAI/Together-shaped; ``stream: true``
answers with SSE ``data:`` chunks ending in ``data: [DONE]``. Generation runs in threads: a whole
answer under its model's own limiter (``LoadedModel.limiter``), so that other routes keep their worker
threads, and batched with the model's other concurrent answers (``batching.py``); a stream generates alone, its
reads use that limiter, its generation thread does not (yet).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import BaseRoute, Route

from byom.engine.deploy.generate import MAX_TOKENS_CAP, encode_prompt, route, run_generation
from byom.engine.deploy.host import Generation, SamplingParams, StreamHandle
from byom.engine.deploy.runtime import Target
from byom.engine.http import answer, omitted, parse_body, wire
from byom.engine.state import engine_of
from byom.errors import InvalidRequest, root_error_line

__all__ = ["DEFAULT_MAX_TOKENS", "MAX_TOKENS_CAP", "routes"]


DEFAULT_MAX_TOKENS = 256


class _TextPart(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[_TextPart] | None = None


class _Sampling(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    model: str = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    # What torch.manual_seed accepts; beyond it, generation would fail with a RuntimeError.
    seed: int | None = Field(default=None, ge=-(2**63), le=2**64 - 1)
    stop: str | list[str] | None = None
    repetition_penalty: float | None = Field(default=None, gt=0)
    n: int | None = Field(default=None, ge=1)
    stream: bool = False

    def params(self) -> SamplingParams:
        if self.n not in (None, 1):
            raise InvalidRequest(
                "n > 1 is not supported by the local engine; send n=1 and repeat the request.", param="n"
            )
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4 or any(not s for s in stops):
            raise InvalidRequest("stop takes up to 4 non-empty strings.", param="stop")
        return SamplingParams(
            max_tokens=min(self.max_tokens or DEFAULT_MAX_TOKENS, MAX_TOKENS_CAP),
            temperature=0.7 if self.temperature is None else self.temperature,
            top_p=1.0 if self.top_p is None else self.top_p,
            top_k=self.top_k or None,
            seed=self.seed,
            stop=stops,
            repetition_penalty=self.repetition_penalty,
        )


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)


class CompletionRequest(_Sampling):
    prompt: str | list[str]


# --- answers (OpenAI/Together-shaped: snake_case on the wire, as the SDK's models read them, ref §4.3) ------


class _Answer(BaseModel):
    """Base of an inference answer: exactly the declared keys; ``omitted()`` ones only when set."""

    model_config = ConfigDict(extra="forbid")


class Usage(_Answer):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Message(_Answer):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(_Answer):
    index: int = 0
    message: Message
    finish_reason: str
    logprobs: None = None


class TextChoice(_Answer):
    index: int = 0
    text: str
    finish_reason: str
    logprobs: None = None


class _Head(_Answer):
    # The keys every answer and chunk starts with; a subclass narrows ``object`` in place.
    id: str
    object: str
    created: int
    model: str


class ChatCompletionBody(_Head):
    """``POST /v1/chat/completions`` without ``stream``."""

    object: Literal["chat.completion"] = "chat.completion"
    # Filled only with echo, which the engine does not support; the SDK requires the key.
    prompt: list[str] = Field(default_factory=list)
    choices: list[ChatChoice]
    usage: Usage


class TextCompletionBody(_Head):
    """``POST /v1/completions`` without ``stream``."""

    object: Literal["text.completion"] = "text.completion"
    prompt: list[str] = Field(default_factory=list)  # as in a chat completion
    choices: list[TextChoice]
    usage: Usage


class Delta(_Answer):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChunkChoice(_Answer):
    index: int = 0
    delta: Delta
    finish_reason: str | None


class TextChunkChoice(_Answer):
    index: int = 0
    text: str
    delta: Delta
    finish_reason: str | None = omitted()  # only on the last chunk


class Token(_Answer):
    """Together's legacy stream token of a text completion."""

    id: int = -1
    text: str
    logprob: float = 0.0
    special: bool = False


class ChatChunkBody(_Head):
    """One SSE ``data:`` object of a streamed chat completion."""

    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChatChunkChoice]
    usage: Usage | None = omitted()  # only on the last chunk


class TextChunkBody(_Head):
    """One SSE ``data:`` object of a streamed text completion; ``finish_reason`` is also at the top."""

    object: Literal["completion.chunk"] = "completion.chunk"
    token: Token
    choices: list[TextChunkChoice]
    finish_reason: str | None
    usage: Usage | None = omitted()  # only on the last chunk


class StreamError(_Answer):
    message: str
    type: Literal["server_error"] = "server_error"


class StreamErrorBody(_Answer):
    """The chunk that ends a stream whose generation failed: the SDK raises APIError on it (ref §4.3)."""

    error: StreamError


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    out = []
    for message in request.messages:
        if isinstance(message.content, list):
            if any(part.type != "text" for part in message.content):
                raise InvalidRequest(
                    "Only text content parts are supported by the local engine.", param="messages"
                )
            text = "".join(part.text or "" for part in message.content)
        else:
            text = message.content or ""
        out.append({"role": message.role, "content": text})
    return out


def _target(request: Request, model: str) -> Target:
    return route(engine_of(request).deploy, model)


async def _encode(target: Target, fn: Any, arg: Any) -> list[int]:
    ids: list[int] = await anyio.to_thread.run_sync(
        encode_prompt, target, fn, arg, limiter=target.model.limiter
    )
    return ids


async def _generate(target: Target, ids: list[int], params: SamplingParams) -> Generation:
    result: Generation = await anyio.to_thread.run_sync(
        run_generation, target, ids, params, limiter=target.model.limiter
    )
    return result


def _usage(gen: Generation) -> Usage:
    return Usage(
        prompt_tokens=gen.prompt_tokens,
        completion_tokens=gen.completion_tokens,
        total_tokens=gen.prompt_tokens + gen.completion_tokens,
    )


def _sse(obj: BaseModel | str) -> bytes:
    return f"data: {obj if isinstance(obj, str) else json.dumps(wire(obj))}\n\n".encode()


async def _pieces(handle: StreamHandle) -> AsyncIterator[str]:
    """Text pieces of a streamed generation, read off the event loop; cancels generation on disconnect."""
    iterator: Iterator[str] = iter(handle)
    done = object()
    try:
        while True:
            piece = await anyio.to_thread.run_sync(next, iterator, done, limiter=handle.limiter)
            if piece is done:
                return
            yield str(piece)
    finally:
        handle.cancelled.set()


async def _events(
    handle: StreamHandle, chunk: Callable[..., bytes], *, opening: bytes | None = None
) -> AsyncIterator[bytes]:
    """SSE frames of one streamed generation: ``chunk(text, finish, usage)`` shapes each; ``[DONE]`` ends it."""
    if opening is not None:
        yield opening
    try:
        async for piece in _pieces(handle):
            yield chunk(piece)
    except Exception as exc:  # noqa: BLE001 - the SDK raises APIError on a data object with "error" (ref §4.3)
        yield _sse(StreamErrorBody(error=StreamError(message=f"Generation failed: {root_error_line(exc)}")))
        return
    result = handle.result
    assert result is not None
    yield chunk("", result.finish_reason, _usage(result))
    yield _sse("[DONE]")


def _streaming(chunks: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def chat_completions(request: Request) -> Any:
    body = await parse_body(request, ChatRequest)
    params = body.params()
    target = _target(request, body.model)
    ids = await _encode(target, target.model.encode_chat, _messages(body))
    completion_id = "chatcmpl-" + secrets.token_hex(12)
    created = int(time.time())
    if not body.stream:
        gen = await _generate(target, ids, params)
        return answer(
            ChatCompletionBody(
                id=completion_id,
                created=created,
                model=body.model,
                choices=[ChatChoice(message=Message(content=gen.text), finish_reason=gen.finish_reason)],
                usage=_usage(gen),
            )
        )
    handle = target.model.stream(ids, params, target.adapter)

    def chunk(text: str, finish: str | None = None, usage: Usage | None = None) -> bytes:
        return _sse(
            ChatChunkBody(
                id=completion_id,
                created=created,
                model=body.model,
                choices=[ChatChunkChoice(delta=Delta(content=text), finish_reason=finish)],
                usage=usage,
            )
        )

    return _streaming(_events(handle, chunk, opening=chunk("")))


async def completions(request: Request) -> Any:
    body = await parse_body(request, CompletionRequest)
    params = body.params()
    prompt = body.prompt
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise InvalidRequest(
                "Send one prompt string; batches are not supported by the local engine.", param="prompt"
            )
        prompt = prompt[0]
    target = _target(request, body.model)
    ids = await _encode(target, target.model.encode_text, prompt)
    completion_id = "cmpl-" + secrets.token_hex(12)
    created = int(time.time())
    if not body.stream:
        gen = await _generate(target, ids, params)
        return answer(
            TextCompletionBody(
                id=completion_id,
                created=created,
                model=body.model,
                choices=[TextChoice(text=gen.text, finish_reason=gen.finish_reason)],
                usage=_usage(gen),
            )
        )
    handle = target.model.stream(ids, params, target.adapter)

    def chunk(text: str, finish: str | None = None, usage: Usage | None = None) -> bytes:
        return _sse(
            TextChunkBody(
                id=completion_id,
                created=created,
                model=body.model,
                token=Token(text=text),
                choices=[TextChunkChoice(text=text, delta=Delta(content=text), finish_reason=finish)],
                finish_reason=finish,
                usage=usage,
            )
        )

    return _streaming(_events(handle, chunk))


routes: list[BaseRoute] = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/completions", completions, methods=["POST"]),
]
