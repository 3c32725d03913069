"""Soak, bounded: concurrent MCP clients over streamable HTTP call job_status, list_jobs and inspect_hf_model
while two jobs train (one training, one queued) and an endpoint serves chat completions, for 40 s.

The driver is ``bench/soak.py`` (its ``--seconds 120`` run is the longer soak). Bounds: no error at all;
between the first and the last quarter of the run, the RSS of the engine and of the MCP server grows by less
than 50 MB and their open descriptors by fewer than 20.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from soak import run_soak

pytestmark = pytest.mark.slow

SECONDS = 40
MAX_RSS_GROWTH = 50 * 1024 * 1024
MAX_FD_GROWTH = 20


def test_soak_no_errors_and_bounded_memory_and_descriptors(tmp_path: Path) -> None:
    report = run_soak(tmp_path, SECONDS, clients=3)
    print(report.render())
    assert report.errors == []
    assert {"job_status", "list_jobs", "inspect_hf_model", "chat.completions"} <= set(report.calls), (
        report.calls
    )
    assert report.steps_trained > 0, "no job trained during the soak"
    for name, series in report.processes.items():
        assert len(series.samples) >= 8, (name, series.samples)
        rss, fds = series.growth()
        assert rss < MAX_RSS_GROWTH, series.line(name)
        assert fds < MAX_FD_GROWTH, series.line(name)
