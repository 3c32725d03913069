"""Chat and text completions, whole and streamed (``/v1/chat/completions``, ``/v1/completions``)."""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
)

from byom.together._error_body import ErrorDetail
from byom.together._shapes import _Lenient

__all__ = [
    "ChatChoice",
    "ChatCompletion",
    "ChatMessage",
    "CompletionChunk",
    "CompletionUsage",
    "StreamDelta",
    "TextChoice",
    "TextCompletion",
]


class CompletionUsage(_Lenient):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class ChatMessage(_Lenient):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChatChoice(_Lenient):
    index: int | None = None
    message: ChatMessage | None = None
    finish_reason: str | None = None  # stop | eos | length | tool_calls | function_call
    logprobs: Any = None
    seed: int | None = None
    text: str | None = None
    top_logprobs: Any = None


class PromptPart(_Lenient):
    text: str | None = None
    logprobs: Any = None


class _Warning(_Lenient):
    message: str | None = None


class ChatCompletion(_Lenient):
    """``POST /v1/chat/completions`` without ``stream`` (ref §4.3)."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    prompt: list[PromptPart] | None = None
    choices: list[ChatChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None
    warnings: list[_Warning] | None = None

    @property
    def text(self) -> str | None:
        """The first choice's message content."""
        first = self.choices[0] if self.choices else None
        return first.message.content if first is not None and first.message is not None else None


class TextChoice(_Lenient):
    index: int | None = None
    text: str | None = None
    finish_reason: str | None = None
    logprobs: Any = None
    seed: int | None = None


class TextCompletion(_Lenient):
    """``POST /v1/completions`` without ``stream``."""

    id: str | None = None
    object: str | None = None
    created: int | None = None
    model: str | None = None
    prompt: list[PromptPart] | None = None
    choices: list[TextChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None
    warnings: list[_Warning] | None = None


class StreamDelta(_Lenient):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    reasoning_content: str | None = None
    token_id: int | None = None
    tool_calls: list[dict[str, Any]] | None = None


class StreamChoice(_Lenient):
    index: int | None = None
    delta: StreamDelta | None = None
    text: str | None = None  # text completions
    finish_reason: str | None = None
    logprobs: Any = None


class StreamToken(_Lenient):
    """The ``token`` of a streamed text completion chunk (Together's legacy stream shape)."""

    id: int | None = None
    text: str | None = None
    logprob: float | None = None
    special: bool | None = None


class CompletionChunk(_Lenient):
    """One SSE ``data:`` object of a streamed chat or text completion (``stream: true``, ref §4.3).

    ``usage`` comes on the last chunk; a chunk with ``error`` means generation failed (the SDK raises).
    ``data: [DONE]`` ends the stream and is not a chunk.
    """

    id: str | None = None
    object: str | None = None  # chat.completion.chunk | completion.chunk
    created: int | None = None
    model: str | None = None
    choices: list[StreamChoice] = Field(default_factory=list)
    usage: CompletionUsage | None = None
    token: StreamToken | None = None
    finish_reason: str | None = None
    error: ErrorDetail | None = None

    @property
    def text(self) -> str:
        """This chunk's piece of text (chat ``delta.content`` or completion ``text``)."""
        pieces = []
        for choice in self.choices:
            if choice.delta is not None and choice.delta.content:
                pieces.append(choice.delta.content)
            elif choice.text:
                pieces.append(choice.text)
        return "".join(pieces)
