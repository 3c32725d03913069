"""check_training_data: a training file checked before money is spent, with what the loss will see."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from byom.catalog import base_limits
from byom.data import (
    DataCheck,
    check_training_file,
    load_counting_tokenizer,
    load_model_config,
    local_data_path,
    render_data_check,
)
from byom.jobs.uploaded import check_uploaded, is_file_id
from byom.tools._common import AppState, connected_backend, domain_errors, state, tool_result

__all__ = ["check_training_data"]


async def check_training_data(
    ctx: Context[AppState, Any],
    path: Annotated[
        str,
        Field(
            description="Absolute path of a .jsonl or .parquet file, or a file id (file-…).",
            max_length=4096,
        ),
    ],
    model: Annotated[
        str | None,
        Field(description="Your model (HF id or local dir): its tokenizer counts tokens.", max_length=512),
    ] = None,
    base: Annotated[
        str | None,
        Field(
            description="The Together base: its max_seq_length applies; its tokenizer if no model.",
            max_length=256,
        ),
    ] = None,
    max_seq_length: Annotated[
        int | None,
        Field(
            ge=1,
            le=1_048_576,
            description="Default: the smaller of your model's context and the base's limit.",
        ),
    ] = None,
    preview_rows: Annotated[int, Field(ge=0, le=10, description="Rows to preview.")] = 3,
    purpose: Annotated[
        Literal["fine-tune", "eval"], Field(description="eval: a validation file.")
    ] = "fine-tune",
    method: Annotated[Literal["sft", "dpo"] | None, Field(description="dpo: preference pairs.")] = None,
    write_converted: Annotated[str | None, Field(description="New .jsonl for a converted copy.")] = None,
) -> Annotated[CallToolResult, DataCheck]:
    """Validate a training file or file id: each problem's line and fix; TRL, ShareGPT, Alpaca… converted.
    With model or base: tokens at the length training will use, and a loss preview."""
    app = state(ctx)
    if is_file_id(path) and write_converted is not None:
        raise ToolError(
            "write_converted needs a local file: an uploaded file is already in Together's format."
        )
    if is_file_id(path):  # already uploaded: the backend's own report and preview
        backend = await connected_backend(ctx)
        with domain_errors():
            check = await check_uploaded(
                backend, path, model=model or base, preview_rows=preview_rows, purpose=purpose
            )
        return tool_result(check, render_data_check(check))
    with domain_errors():
        file = local_data_path(path, "training" if purpose == "fine-tune" else "validation")
        target = _converted_path(write_converted) if write_converted is not None else None
    limits: tuple[int, int] | None = None
    if base:
        catalog = await app.catalog()
        found = next((b for b in catalog.bases if b.name == base), None)
        if found is None:
            raise ToolError(f"{base!r} is not a Together base model. recommend_base names the right one.")
        facts = base_limits(found)
        limits = (facts.max_seq_length_sft, facts.max_seq_length_dpo)
    who = model or base
    tokenizer = config = None
    if who:
        token = app.settings.hf_token.get_secret_value() if app.settings.hf_token else None
        config = await anyio.to_thread.run_sync(lambda: load_model_config(who, token=token))
        try:
            with domain_errors():  # a link out of the model directory, ...: refused in its own words
                tokenizer = await anyio.to_thread.run_sync(lambda: load_counting_tokenizer(who, token=token))
        except ToolError:
            raise
        except Exception as exc:  # noqa: BLE001 - any loader failure is the model's (missing files, no access)
            raise ToolError(
                f"The tokenizer of {who!r} could not be loaded ({type(exc).__name__}). Check the name or directory "
                "(inspect_hf_model says what is missing), and HF_TOKEN for a gated repo; or leave model out to check "
                "the format only."
            ) from None
    with domain_errors():
        check = await anyio.to_thread.run_sync(
            lambda: check_training_file(
                file,
                tokenizer=tokenizer,
                tokenizer_name=who,
                model_config=config,
                max_seq_length=max_seq_length,
                base_limits=limits,
                preview_rows=preview_rows,
                purpose=purpose,
                method=method,
                write_converted=target,
            )
        )
    return tool_result(check, render_data_check(check))


def _converted_path(given: str) -> Path:
    """Where a converted copy may go: an absolute path (the server's working directory is not the user's),
    outside hidden directories; write_converted checks the rest (.jsonl, the folder, no overwrite)."""
    target = Path(given).expanduser()
    if "\0" in given or not target.is_absolute():
        raise ToolError(f"write_converted {given!r} must be an absolute path to a new .jsonl file.")
    if any(part.startswith(".") and part not in (".", "..") for part in target.parts):
        raise ToolError(f"write_converted {given!r} is inside a hidden directory; pick a normal folder.")
    return target
