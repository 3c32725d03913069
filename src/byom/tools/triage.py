"""explain_error: why a fine-tune failed, from its job or from pasted text, with the fix and a corrected call."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from byom.errors import ByomError
from byom.hub import InspectReport
from byom.tools._common import AppState, connected_backend, domain_errors, state, tool_result
from byom.triage import Explanation
from byom.untrusted import fence

__all__ = ["explain_error"]

MAX_TEXT = 1_000_000  # characters of pasted text read (the explainer looks at the tail)


def render_explanation(e: Explanation) -> str:
    head = (
        f"{e.category}"
        + (f" ({e.docs_class})" if e.docs_class else "")
        + (f", at {e.stage}" if e.stage else "")
    )
    lines = [f"{'Job ' + e.job_id + ': ' if e.job_id else ''}{head}. {e.cause}"]
    if e.evidence:
        lines.append("Evidence (untrusted text from the run):\n" + fence(e.evidence, "run"))
    if e.fixes:
        lines.append("Fixes, most likely first:")
        lines.extend(f"{i}. {fix}" for i, fix in enumerate(e.fixes, 1))
    if e.corrected_call:
        args = ", ".join(f"{k}={json.dumps(v)}" for k, v in e.corrected_call.changes.items())
        lines.append(
            f"Corrected call: create_finetune(<the same arguments>, {args}) — {e.corrected_call.reason}"
        )
    lines.append(f"{retry_verdict(e)} Confidence: {e.confidence}.")
    return "\n".join(lines)


def retry_verdict(e: Explanation) -> str:
    """What the explanation says about retrying: nothing is promised about an error nobody recognised."""
    if e.confidence == "unknown":
        return "Whether retrying as it is helps is not known."
    return "Retrying as it is may help." if e.retryable else "Retrying as it is will fail the same way."


async def _report(app: AppState, model: str | None, revision: str | None) -> InspectReport | None:
    """The custom model's inspection, when it can be had: it lets the explainer compute memory and base fixes."""
    if not model:
        return None
    try:
        return await anyio.to_thread.run_sync(app.inspector.inspect, model, revision)
    except ByomError:
        return None


async def explain_error(
    ctx: Context[AppState, Any],
    job_id: Annotated[
        str | None, Field(description="A failed job (ft-…) of the active backend.", max_length=200)
    ] = None,
    error_text: Annotated[
        str | None,
        Field(description="Or pasted text: a traceback, a log tail, an API error body.", max_length=MAX_TEXT),
    ] = None,
) -> Annotated[CallToolResult, Explanation]:
    """Explain a failed fine-tune (or pasted error text): category, cause, evidence, ordered fixes, whether a
    retry can help, and where it can be computed a corrected create_finetune call."""
    from byom.triage import explain_job, explain_text  # the root finder and corrections load on first use

    if bool(job_id) == bool(error_text):
        raise ToolError(
            "Pass job_id (a failed job; list_jobs shows them) or error_text (pasted log), exactly one."
        )
    app = state(ctx)
    if error_text:
        explanation = await anyio.to_thread.run_sync(lambda: explain_text(error_text))
        return tool_result(explanation, render_explanation(explanation))
    assert job_id is not None
    backend = await connected_backend(ctx)
    with domain_errors():
        job = await backend.client.retrieve_finetune(job_id)
        events = await backend.client.finetune_events(job.id)
        report = await _report(app, job.from_hf_model, job.hf_model_revision)
        catalog = await app.catalog()
    explanation = await anyio.to_thread.run_sync(
        lambda: explain_job(job, events, report=report, catalog=catalog)
    )
    return tool_result(explanation, render_explanation(explanation))
