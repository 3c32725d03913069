"""A model folder whose weights file was cut short, through a real MCP client: inspect_hf_model answers with an
INCOMPATIBLE finding (sizes, tensors, how to verify a new copy) beside every other check, and create_finetune's
pre-flight refuses with the same finding, before anything is uploaded or created."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.faults import FaultTransport, engine_jobs
from support.tool_calls import call_error, call_ok

pytestmark = pytest.mark.anyio


@pytest.fixture
def cut_model(tmp_path: Path, tiny_model: Path) -> tuple[Path, int, int]:
    """A copy of the tiny model with model.safetensors cut to two thirds: (folder, whole size, size left)."""
    folder = tmp_path / "cut-model"
    shutil.copytree(tiny_model, folder)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) * 2 // 3])
    return folder, len(data), len(data) * 2 // 3


async def test_inspect_reports_a_truncated_file_as_a_finding(
    byom_settings: Settings, cut_model: tuple[Path, int, int]
) -> None:
    folder, whole, kept = cut_model
    async with Client(build_server(byom_settings)) as c:
        report = await call_ok(c, "inspect_hf_model", {"model": str(folder)})
    assert report["verdict"] == "incompatible"
    (finding,) = [f for f in report["findings"] if f["check"] == "weights_integrity"]
    assert f"expected {whole:,} bytes, found {kept:,}" in finding["evidence"]
    assert "tensors are cut off or missing" in finding["evidence"]
    assert f"exactly {whole:,} bytes" in finding["fix"] and "re-download" not in finding["fix"].lower()
    assert {"causal_lm", "context", "tokenizer"} <= {f["check"] for f in report["findings"]}
    assert report["param_count"] and report["max_context"]


async def test_create_finetune_preflight_refuses_with_the_finding(
    byom_settings: Settings,
    queued: tuple[FaultTransport, EngineState],
    tool_args: dict[str, Any],
    cut_model: tuple[Path, int, int],
) -> None:
    folder, whole, kept = cut_model
    settings = byom_settings.model_copy(update={"auto_confirm": True})
    async with Client(build_server(settings, transport=queued[0])) as c:
        text = await call_error(c, "create_finetune", {**tool_args, "from_hf_model": str(folder)})
    assert "weights_integrity" in text and f"expected {whole:,} bytes, found {kept:,}" in text
    assert "Nothing was uploaded or created" in text
    assert engine_jobs(queued[1]) == []
