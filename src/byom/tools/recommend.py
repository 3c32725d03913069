"""recommend_base: pick the Together catalog base model ("template") for a custom model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from byom.catalog import Recommendation, recommend_for_report, render_recommendation
from byom.tools._common import AppState, domain_errors, state, tool_result
from byom.tools.inspect import ModelArg


async def recommend_base(
    model: ModelArg,
    ctx: Context[AppState, Any],
    training_type: Annotated[
        Literal["lora", "full"], Field(description="LoRA adapters (cheaper, default) or full fine-tuning.")
    ] = "lora",
    max_seq_length: Annotated[
        int | None,
        Field(description="Sequence length you plan to train with, if known.", ge=1),
    ] = None,
    method: Annotated[
        Literal["sft", "dpo"], Field(description="Training method: supervised (sft) or preference (dpo).")
    ] = "sft",
    together: Annotated[bool, Field(description="Rank Together's bases even on the local engine.")] = False,
) -> Annotated[CallToolResult, Recommendation]:
    """Pick the Together base model (the `model` template) for a custom Hugging Face model.

    Together's BYOM rule: same architecture, base context ≤ the model's, closest size. Returns `base_model`,
    ranked alternatives, warnings and the create_finetune call (a Together base itself needs no BYOM).
    """
    app = state(ctx)
    with domain_errors():
        report = await anyio.to_thread.run_sync(app.inspector.inspect, model, None)
        catalog = await app.catalog()
        rec = recommend_for_report(
            report,
            catalog,
            training_type=training_type,
            max_seq_length=max_seq_length,
            method=method,
            local_engine=app.settings.backend == "local" and not together,
        )
    return tool_result(rec, render_recommendation(rec))
