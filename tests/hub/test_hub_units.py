"""Sizes in words: sensible units for tiny and huge models, never "0 GB"."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_hub_local import _write_model

from byom.hub import HubInspector, human_bytes, human_params, render_report


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (999, "999"),
        (4_100, "4.1K"),
        (134_515_008, "135M"),
        (999_960_000, "1B"),
        (7_241_732_096, "7.2B"),
        (46_702_792_704, "46.7B"),
        (405_000_000_000, "405B"),
    ],
)
def test_human_params(n: int, text: str) -> None:
    assert human_params(n) == text


@pytest.mark.parametrize(
    ("n", "text"), [(65_600, "65.6 KB"), (8_200_000, "8.2 MB"), (269_030_016, "269 MB"), (2.15e10, "21.5 GB")]
)
def test_human_bytes(n: float, text: str) -> None:
    assert human_bytes(n) == text


def test_tiny_model_sizes_read_in_small_units(inspector: HubInspector, tmp_path: Path) -> None:
    report = inspector.inspect(str(_write_model(tmp_path / "tiny")))  # 856 parameters
    memory = next(f for f in report.findings if f.check == "memory").evidence
    assert "0 GB" not in memory and memory.startswith("about 13.7 KB full fine-tune, 1.7 KB LoRA")
    assert report.memory is not None and 0 < report.memory.full_finetune_gb < 0.001
    size = next(f for f in report.findings if f.check == "size").evidence
    assert "856 parameters" in size and "0M" not in size and "0.00" not in size
    assert "856 params (safetensors)" in render_report(report).splitlines()[1]


def test_render_shows_units_for_big_models(inspector: HubInspector) -> None:
    report = inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct")
    line = render_report(report).splitlines()[1]
    assert "135M params (134,515,008, safetensors)" in line
    memory = next(f for f in report.findings if f.check == "memory").evidence
    assert memory.startswith("about 2.2 GB full fine-tune, 269 MB LoRA")
