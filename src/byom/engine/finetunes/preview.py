"""``POST /v1/fine-tunes/preview``: how the first rows of an uploaded file are tokenized and which tokens
carry loss (ref together-api-2026-11 §2.1; SDK 3.1.1 ``fine_tuning.preview``).

Same request and response as Together's. Engine extension: ``model`` may also be a local model
directory or a Hub repo id already in the local cache (what ``from_hf_model`` takes on create), and
``from_hf_model`` may be given next to a catalog ``model`` to preview with the custom model's tokenizer.
The rows come from ``byom.data.preview``, the same code the trainer tokenizes with.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from byom.data import PreviewRow, decide_max_seq_length, iter_rows, preview
from byom.engine.files import file_blob
from byom.engine.finetunes.plan import local_tokenizer_dir, model_config
from byom.engine.http import answer, parse_body
from byom.engine.state import EngineState, engine_of
from byom.engine.templates import limits_for
from byom.errors import HubError, InvalidRequest, TrainingError

__all__ = ["PreviewBody", "PreviewRequest", "preview_finetune"]

log = logging.getLogger("byom.engine.finetunes")

MAX_TOP_K = 100  # rows are returned whole (ids, labels, tokens): keep the answer bounded


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=1000)
    training_file: str = Field(min_length=1, max_length=200)
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    train_on_inputs: bool | None = None
    training_method: Literal["sft"] = "sft"
    from_hf_model: str | None = Field(default=None, max_length=1000)  # engine extension
    hf_model_revision: str | None = Field(default=None, max_length=200)  # engine extension


class PreviewBody(BaseModel):
    """SDK 3.1.1 ``FineTunePreviewResponse``."""

    model_config = ConfigDict(extra="forbid")

    dataset_format: Literal["general", "conversation", "instruction"]
    max_seq_length: int
    model: str
    rows: list[PreviewRow]
    train_on_inputs: bool


def _tokenizer_dir(state: EngineState, req: PreviewRequest) -> tuple[Path, int]:
    """Where the tokenizer is and the max_seq_length to preview at (the base's, capped at the model's context)."""
    limits = limits_for(req.model)
    source = req.from_hf_model or req.model
    param = "from_hf_model" if req.from_hf_model else "model"
    directory = local_tokenizer_dir(state, source, req.hf_model_revision)
    if directory is None:
        known = "a catalog base" if limits else "neither a catalog base nor a local model directory"
        raise InvalidRequest(
            f"'{source[:300]}' is {known}, and its tokenizer is not on this machine (the engine never downloads "
            "for a preview). Pass a local model directory, or download the model first (a job downloads it).",
            param=param,
        )
    seq = decide_max_seq_length(
        None,
        config=model_config(directory),
        base_limit=int(limits["max_seq_length_sft"]) if limits else None,
    )
    return directory, seq.value


def _training_rows(state: EngineState, file_id: str) -> tuple[Path, str]:
    row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
    if row is None or not row["sha256"]:
        raise InvalidRequest(
            f"training_file '{file_id[:100]}' is not an uploaded file of this engine. Upload it first (POST /v1/files).",
            param="training_file",
        )
    if row["processing_status"] != "COMPLETED":
        raise InvalidRequest(
            f"training_file '{file_id}' is {row['processing_status'] or 'not validated'}; preview needs a file that "
            f"passed validation. Check GET /v1/files/{file_id}.",
            param="training_file",
        )
    fmt = str(json.loads(row["validation_report"] or "{}").get("dataset_format") or "").lower()
    if fmt not in ("general", "conversation", "instruction"):
        raise InvalidRequest(
            f"Preview covers SFT data (general, conversation, instruction); this file is {fmt or 'of no known format'}.",
            param="training_file",
        )
    path = file_blob(state, row)
    assert path is not None  # sha256 is set
    return path, fmt


def _render(directory: Path, data: Path, req: PreviewRequest, max_seq_length: int) -> list[PreviewRow]:
    from byom.data import load_counting_tokenizer

    try:
        tokenizer = load_counting_tokenizer(directory)
    except HubError as exc:  # a link out of the directory (byom.contained), ...: a 400 in its own words
        raise InvalidRequest(str(exc), param="from_hf_model" if req.from_hf_model else "model") from None
    except Exception as exc:  # noqa: BLE001 - any loader failure is the model directory's problem, a 400
        log.info("preview: tokenizer of %s did not load: %r", directory, exc)
        raise InvalidRequest(
            f"The tokenizer in {directory.name} could not be loaded ({type(exc).__name__}). Check that the model "
            "directory holds its tokenizer files.",
            param="from_hf_model" if req.from_hf_model else "model",
        ) from None
    try:
        rows = preview(
            iter_rows(data),
            tokenizer,
            max_seq_length=max_seq_length,
            train_on_inputs=req.train_on_inputs if req.train_on_inputs is not None else "auto",
            top_k=req.top_k,
        )
    except TrainingError as exc:  # e.g. conversation data and no chat template
        raise InvalidRequest(str(exc), param="model") from None
    return [r.together() for r in rows]


async def preview_finetune(request: Request) -> JSONResponse:
    state = engine_of(request)
    req = await parse_body(request, PreviewRequest)
    data, fmt = _training_rows(state, req.training_file)
    directory, max_seq_length = await run_in_threadpool(_tokenizer_dir, state, req)
    if importlib.util.find_spec("transformers") is None:
        raise InvalidRequest(
            "Previewing needs transformers, which this engine's Python lacks. Install byom-mcp[local].",
            param="model",
        )
    rows: list[Any] = await run_in_threadpool(_render, directory, data, req, max_seq_length)
    return answer(
        PreviewBody(
            dataset_format=fmt,  # checked in _training_rows
            max_seq_length=max_seq_length,
            model=req.model,
            rows=rows,
            train_on_inputs=bool(req.train_on_inputs),
        )
    )
