"""Where training would run: the engine's own device probe, bounded for an interactive command."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from byom.doctor._check import Check

__all__ = ["DeviceInfo", "ProbeFn", "default_probe", "probe_accelerators"]

_PROBE_TIMEOUT_S = 20.0


class DeviceInfo(BaseModel):
    key: str
    description: str
    memory_gib: int


ProbeFn = Callable[[], dict[str, Any]]


def default_probe() -> dict[str, Any]:
    """The engine's own device probe (torch in a subprocess), bounded for an interactive command."""
    from byom.engine.devices import run_probe

    if importlib.util.find_spec("torch") is None:
        return {"torch": None, "cuda": [], "mps": False, "errors": []}
    return run_probe(timeout_s=_PROBE_TIMEOUT_S)


def probe_accelerators(probe: ProbeFn) -> tuple[list[DeviceInfo], Check]:
    import psutil

    from byom.engine.devices import devices_from_report, training_device

    report = probe()
    devices = devices_from_report(report, int(psutil.virtual_memory().total))
    infos = [DeviceInfo(key=d.key, description=d.description, memory_gib=d.memory_gib) for d in devices]
    shown = "; ".join(f"{d.key}: {d.description}, {d.memory_gib} GiB" for d in infos)
    detail = f"{shown}; trains on {training_device(devices)}"
    errors = [e for e in report.get("errors") or [] if not str(e).startswith("torch:")]
    if errors:
        return infos, Check(
            name="accelerators",
            status="warning",
            detail=f"{detail}; the probe said: {'; '.join(map(str, errors))}",
            fix="Check the GPU driver (nvidia-smi) and that torch is a build for it; the CPU still works.",
        )
    if report.get("torch") is None:
        detail += " (torch not installed: CPU only)"
    return infos, Check(name="accelerators", status="ok", detail=detail)
