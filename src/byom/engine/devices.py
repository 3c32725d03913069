"""This machine's devices (the CPU, each CUDA GPU, Apple-silicon ``mps``), probed once, in a subprocess.

The one probe of the engine: the job runner picks the training device from it and deploy lists it as
instance types and configs (ref together-api-2026-11 §3.6, §3.7). Importing torch takes seconds and a
broken driver can crash the importer, so the probe runs ``python -c`` and reads one JSON line: the
service itself never imports torch. Config ids are stable (``cr_local_cpu``, ``cr_local_cuda0``,
``cr_local_mps``) so a deployment still names the same hardware after an engine restart.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = [
    "DYNAMIC_SUFFIX",
    "Device",
    "adapter_mode",
    "device_for_config",
    "estimate_bytes",
    "fits",
    "probe_devices",
    "probed_devices",
    "training_device",
]

log = logging.getLogger("byom.engine.devices")

_GIB = 1024**3
# Each device is two configs: ``cr_local_<dev>`` (adapter_mode disabled: a model, or an adapter merged onto its
# base) and ``cr_local_<dev>_dynamic`` (adapter_mode dynamic: a base that LoRA adapters attach to).
DYNAMIC_SUFFIX = "_dynamic"
_PROBE_TIMEOUT_S = 120
# Marketing suffixes that do not change what a model needs (memory is in the name already).
_DROP = {
    "nvidia",
    "hbm3",
    "hbm2",
    "hbm2e",
    "hbm3e",
    "pcie",
    "sxm",
    "sxm4",
    "sxm5",
    "nvl",
    "tensor",
    "core",
    "gpu",
    "geforce",
}

# Runs in the probe subprocess: every failure becomes data, so the parent always gets one JSON line.
_PROBE_SCRIPT = """
import json
report = {"torch": None, "cuda": [], "mps": False, "errors": []}
try:
    import torch
except Exception as exc:
    report["errors"].append("torch: %s: %s" % (type(exc).__name__, exc))
else:
    report["torch"] = torch.__version__
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                report["cuda"].append({"name": p.name, "memory": int(p.total_memory)})
    except Exception as exc:
        report["errors"].append("cuda: %s: %s" % (type(exc).__name__, exc))
    try:
        mps = getattr(torch.backends, "mps", None)
        report["mps"] = bool(mps is not None and mps.is_available())
    except Exception as exc:
        report["errors"].append("mps: %s: %s" % (type(exc).__name__, exc))
print(json.dumps(report))
"""


@dataclass(frozen=True)
class Device:
    key: str  # torch device string: "cpu", "cuda:0", "mps"
    accelerator_type: str  # "cpu", "nvidia-h100-80gb", "apple-mps"
    gpu_type: str  # "CPU", "H100", "MPS"
    memory_bytes: int
    description: str

    @property
    def config_id(self) -> str:
        return "cr_local_" + self.key.replace(":", "")

    @property
    def dynamic_config_id(self) -> str:
        """The same hardware with ``adapter_mode`` dynamic: LoRA adapters attach to its deployments (ref §3.6, §3.9)."""
        return self.config_id + DYNAMIC_SUFFIX

    @property
    def instance_type_id(self) -> str:
        return "local-" + self.key.replace(":", "")

    @property
    def hardware(self) -> str:
        return f"1x{self.accelerator_type}"

    @property
    def memory_gib(self) -> int:
        return max(1, round(self.memory_bytes / _GIB))

    @property
    def shares_system_memory(self) -> bool:
        """The CPU and Apple's unified memory: the size is the machine's RAM."""
        return self.key in ("cpu", "mps")


def _accelerator_type(name: str, memory_bytes: int) -> tuple[str, str]:
    tokens = [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t and t not in _DROP]
    gib = f"{round(memory_bytes / _GIB)}gb"
    if not any(t.endswith("gb") for t in tokens):
        tokens.append(gib)
    model = " ".join(t for t in tokens if not t.endswith("gb")) or "gpu"
    return "nvidia-" + "-".join(tokens), model.upper()


def devices_from_report(report: dict[str, Any], system_memory: int) -> tuple[Device, ...]:
    """The devices a probe report names: the CPU always, then each CUDA GPU, then ``mps``."""
    cpu = Device("cpu", "cpu", "CPU", system_memory, f"CPU ({os.cpu_count() or 1} cores)")
    devices = [cpu]
    for index, gpu in enumerate(report.get("cuda") or []):
        name, memory = str(gpu.get("name") or "GPU"), int(gpu.get("memory") or 0)
        accel, gpu_type = _accelerator_type(name, memory)
        devices.append(Device(f"cuda:{index}", accel, gpu_type, memory, name))
    if report.get("mps"):
        devices.append(Device("mps", "apple-mps", "MPS", system_memory, "Apple silicon GPU (mps)"))
    return tuple(devices)


def run_probe(argv: Sequence[str] | None = None, *, timeout_s: float = _PROBE_TIMEOUT_S) -> dict[str, Any]:
    """Run the probe script (``argv`` replaces ``python -c <script>``, for tests); its report, never raises.

    ``timeout_s``: the engine waits out a slow first CUDA init; ``byom doctor`` must answer in seconds."""
    command = list(argv) if argv is not None else [sys.executable, "-c", _PROBE_SCRIPT]
    empty: dict[str, Any] = {"torch": None, "cuda": [], "mps": False, "errors": []}
    try:
        out = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {**empty, "errors": [f"probe: {type(exc).__name__}: {exc}"]}
    lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
    try:
        report = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict):
        # A driver that crashes the interpreter (segfault) leaves no line: CPU only.
        return {**empty, "errors": [f"probe: exit code {out.returncode}, no report"]}
    return report


def _probe() -> tuple[Device, ...]:
    report = run_probe()
    if report.get("torch") is None:
        log.info("torch is not available to the engine's Python: CPU only (%s)", "; ".join(report["errors"]))
    else:
        for error in report.get("errors") or []:
            log.warning("device probe: %s", error)  # a broken driver must not take the CPU down with it
    devices = devices_from_report(report, int(psutil.virtual_memory().total))
    log.info("devices: %s", ", ".join(d.key for d in devices))
    return devices


_lock = threading.Lock()
_cached: tuple[Device, ...] | None = None


def probe_devices() -> tuple[Device, ...]:
    """The CPU, every CUDA GPU and ``mps``, probed on the first call (seconds: call off the event loop)."""
    global _cached
    with _lock:  # concurrent first callers wait for the one probe
        if _cached is None:
            _cached = _probe()
        return _cached


def probed_devices() -> tuple[Device, ...] | None:
    """The devices if the probe has run, else ``None``, without waiting."""
    return _cached


def training_device(devices: Sequence[Device]) -> str:
    """The device ``device="auto"`` trains on: ``mps`` if present, then the first CUDA GPU, then the CPU."""
    keys = [d.key for d in devices]
    if "mps" in keys:
        return "mps"
    if any(k.startswith("cuda") for k in keys):
        return "cuda"
    return "cpu"


def device_for_config(config_id: str) -> Device | None:
    """The local device a config id names (either adapter mode), or ``None``."""
    plain = config_id.removesuffix(DYNAMIC_SUFFIX)
    return next((d for d in probe_devices() if d.config_id == plain), None)


def adapter_mode(config_id: str) -> str:
    """A config's ``adapter_mode`` selector: ``dynamic`` (adapters attach at run time) or ``disabled``."""
    return "dynamic" if config_id.endswith(DYNAMIC_SUFFIX) else "disabled"


def estimate_bytes(parameters: int | None, device: Device) -> int:
    """Memory to serve ``parameters`` weights: fp32 on CPU, 16-bit on a GPU, plus 20% and 512 MiB of headroom."""
    per_param = 4 if device.key == "cpu" else 2
    return int((parameters or 0) * per_param * 1.2) + 512 * 1024**2


def fits(parameters: int | None, device: Device) -> bool:
    """Whether a model can be served on ``device`` (the CPU always can: it swaps rather than fails)."""
    return device.key == "cpu" or estimate_bytes(parameters, device) <= device.memory_bytes
