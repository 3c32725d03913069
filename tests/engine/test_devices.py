"""The one device probe: a subprocess report, read into devices; torch missing or broken is CPU only."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import psutil
import pytest

from byom.engine import devices
from byom.engine.devices import devices_from_report, run_probe, training_device

_BROKEN_TORCH = """
__version__ = "0.0-fake"
class cuda:
    @staticmethod
    def is_available():
        raise RuntimeError("CUDA driver initialization failed")
class backends:
    class mps:
        @staticmethod
        def is_available():
            return True
"""


def _script_with_path(path: Path) -> list[str]:
    # -S: the venv's site-packages (the real torch) are out of reach; only ``path`` can provide torch.
    code = f"import sys; sys.path.insert(0, {str(path)!r}); exec({devices._PROBE_SCRIPT!r})"
    return [sys.executable, "-S", "-c", code]


def test_without_torch_the_probe_reports_the_cpu_only(tmp_path: Path) -> None:
    report = run_probe(_script_with_path(tmp_path))
    assert report["torch"] is None and report["errors"][0].startswith("torch:")
    found = devices_from_report(report, 8 * 1024**3)
    assert [d.config_id for d in found] == ["cr_local_cpu"] and training_device(found) == "cpu"


def test_a_broken_cuda_driver_keeps_the_cpu_and_mps(tmp_path: Path) -> None:
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(_BROKEN_TORCH)
    report = run_probe(_script_with_path(tmp_path))
    assert report["torch"] == "0.0-fake" and report["cuda"] == [] and report["mps"] is True
    assert any("CUDA driver initialization failed" in e for e in report["errors"])
    found = devices_from_report(report, 16 * 1024**3)
    assert [d.config_id for d in found] == ["cr_local_cpu", "cr_local_mps"]
    mps = found[1]
    assert mps.key == "mps" and mps.memory_bytes == 16 * 1024**3 and mps.instance_type_id == "local-mps"
    assert training_device(found) == "mps"  # auto prefers mps


def test_a_probe_that_crashes_is_cpu_only() -> None:
    report = run_probe([sys.executable, "-c", "import os; os._exit(139)"])
    assert report["torch"] is None and "exit code 139" in report["errors"][0]


def test_cuda_gpus_get_stable_config_ids_and_auto_trains_on_cuda() -> None:
    report = {
        "torch": "2.x",
        "cuda": [
            {"name": "NVIDIA H100 80GB HBM3", "memory": 80 * 1024**3},
            {"name": "NVIDIA L4", "memory": 24 * 1024**3},
        ],
        "mps": False,
        "errors": [],
    }
    found = devices_from_report(report, 64 * 1024**3)
    assert [d.config_id for d in found] == ["cr_local_cpu", "cr_local_cuda0", "cr_local_cuda1"]
    assert [d.key for d in found] == ["cpu", "cuda:0", "cuda:1"]
    assert found[1].accelerator_type == "nvidia-h100-80gb" and training_device(found) == "cuda"


def test_probe_runs_once_and_says_when_torch_is_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[None] = []

    def fake_probe() -> dict[str, object]:
        calls.append(None)
        return {"torch": None, "cuda": [], "mps": False, "errors": ["torch: ModuleNotFoundError: torch"]}

    monkeypatch.setattr(devices, "run_probe", fake_probe)
    monkeypatch.setattr(devices, "_cached", None)
    with caplog.at_level(logging.INFO, logger="byom.engine.devices"):
        assert devices.probed_devices() is None
        first = devices.probe_devices()
        assert devices.probe_devices() is first and devices.probed_devices() is first
    assert len(calls) == 1
    assert [d.key for d in first] == ["cpu"]
    assert first[0].memory_bytes == psutil.virtual_memory().total
    assert any("torch is not available" in m and "CPU only" in m for m in caplog.messages)
