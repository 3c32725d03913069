"""ask_model: send a prompt to a fine-tuned model and read its answer (fenced: the model's words are untrusted)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from byom.endpoints.ask import MAX_ANSWER_TOKENS, AskArgs, AskResult, ask
from byom.errors import PreflightError, describe_validation_error
from byom.tools._common import MAX_WAIT_S, AppState, domain_errors, progress_reporter, state, tool_result
from byom.untrusted import fence

__all__ = ["ask_model"]


async def ask_model(
    ctx: Context[AppState, Any],
    model: Annotated[str, Field(description="Endpoint/model", max_length=300)] = "",
    job_id: Annotated[str, Field(description="Or job id", max_length=200)] = "",
    prompt: Annotated[str, Field(description="Text")] = "",
    messages: Annotated[tuple[dict[str, str], ...], Field(description="Or chat")] = (),
    max_tokens: Annotated[int, Field(description="Cap", ge=1, le=MAX_ANSWER_TOKENS)] = 256,
    temperature: Annotated[float, Field(description="0: greedy", ge=0, le=2)] = 0.7,
    where: Annotated[Literal["auto", "local"], Field(description="local: Together job here")] = "auto",
) -> Annotated[CallToolResult, AskResult]:
    """Try a fine-tuned model: its reply, latency, tokens. An endpoint, or a completed job without one (loaded on
    demand; where="local": a Together job runs here). Never bills."""
    try:  # AskArgs bounds the prompt and messages (the schema stays short: every host reads it every turn)
        args = AskArgs(
            model=model or None,
            job_id=job_id or None,
            prompt=prompt or None,
            messages=list(messages) or None,
            max_tokens=max_tokens,
            temperature=temperature,
            where=where,
        )
    except ValidationError as exc:  # the arguments one by one were fine; together they name no one call
        with domain_errors():
            raise PreflightError(
                f"Invalid arguments for ask_model: {describe_validation_error(exc)}. Fix them and call again."
            ) from None
    app = state(ctx)
    with domain_errors():
        result = await ask(
            args,
            backend=await app.backend(),
            local=app.local_backend,
            weights=app.weights,
            budget_s=MAX_WAIT_S,
            progress=progress_reporter(ctx),
        )
    return tool_result(result, _render(result))


def _render(result: AskResult) -> str:
    fetched = f"{result.download.summary}\n" if result.download is not None else ""
    if result.status != "answered":
        return f"{fetched}{result.note}"
    return (
        f"{fetched}{result.model} on {result.served_by} answered in {result.latency_s} s "
        f"({result.prompt_tokens} prompt + {result.completion_tokens} completion tokens, "
        f"finish: {result.finish_reason}):\n{fence(result.answer or '', 'model-output')}"
    )
