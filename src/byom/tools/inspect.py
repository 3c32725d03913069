"""inspect_hf_model: can this Hugging Face model be fine-tuned, and what do I need to know?"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from byom.catalog import with_template_finding
from byom.errors import ByomError
from byom.hub import InspectReport, render_report
from byom.tools._common import AppState, domain_errors, state, tool_result

ModelArg = Annotated[
    str,
    Field(
        description="HF repo id ('org/name', optionally '@revision') or a local model directory.",
        min_length=1,
        max_length=512,
    ),
]
RevisionArg = Annotated[
    str | None,
    Field(
        description="Branch, tag or commit sha to inspect. Default: the repo's main branch.", max_length=256
    ),
]


async def inspect_hf_model(
    model: ModelArg, ctx: Context[AppState, Any], revision: RevisionArg = None
) -> Annotated[CallToolResult, InspectReport]:
    """Check whether a Hugging Face causal LM can be fine-tuned with Together BYOM, before any spend.

    Reads only metadata (config files and safetensors headers, never weights). Returns a verdict
    (compatible / compatible_with_warnings / incompatible), each finding with evidence and a fix,
    parameter count, context length, adapter/MoE/quantization facts, memory estimates and the template.
    """
    app = state(ctx)
    with domain_errors():
        report = await anyio.to_thread.run_sync(app.inspector.inspect, model, revision)
    try:
        report = with_template_finding(
            report, await app.catalog(), local_engine=app.settings.backend == "local"
        )
    except ByomError:
        # No backend to ask (BYOM_BACKEND=together without a key): the inspection stands without the
        # template, and recommend_base says what to set.
        pass
    return tool_result(report, render_report(report))
