"""The machine's serving devices (the CPU and each CUDA GPU), probed once.

Each device is one local "instance type" and one config (ref together-api-2026-11 §3.6, §3.7):
its config id is stable (``cr_local_cpu``, ``cr_local_cuda0``) so a deployment still names the
same hardware after an engine restart.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from dataclasses import dataclass

__all__ = ["Device", "device_for_config", "estimate_bytes", "fits", "probe_devices"]

log = logging.getLogger("byom.engine.deploy.devices")

_GIB = 1024**3
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


@dataclass(frozen=True)
class Device:
    key: str  # torch device string: "cpu", "cuda:0"
    accelerator_type: str  # "cpu", "nvidia-h100-80gb"
    gpu_type: str  # "CPU", "H100"
    memory_bytes: int
    description: str

    @property
    def config_id(self) -> str:
        return "cr_local_" + self.key.replace(":", "")

    @property
    def instance_type_id(self) -> str:
        return "local-" + self.key.replace(":", "")

    @property
    def hardware(self) -> str:
        return f"1x{self.accelerator_type}"

    @property
    def memory_gib(self) -> int:
        return max(1, round(self.memory_bytes / _GIB))


def _system_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def _accelerator_type(name: str, memory_bytes: int) -> tuple[str, str]:
    tokens = [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t and t not in _DROP]
    gib = f"{round(memory_bytes / _GIB)}gb"
    if not any(t.endswith("gb") for t in tokens):
        tokens.append(gib)
    model = " ".join(t for t in tokens if not t.endswith("gb")) or "gpu"
    return "nvidia-" + "-".join(tokens), model.upper()


@functools.lru_cache(maxsize=1)
def probe_devices() -> tuple[Device, ...]:
    """The CPU, then every CUDA GPU torch can see (importing torch is slow: call off the event loop)."""
    cpu_name = f"CPU ({os.cpu_count() or 1} cores)"
    devices = [Device("cpu", "cpu", "CPU", _system_memory(), cpu_name)]
    try:
        import torch
    except ImportError:  # the engine's serving extra is not installed: CPU rows only (serving says why)
        return tuple(devices)
    try:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        for index in range(count):
            props = torch.cuda.get_device_properties(index)
            accel, gpu_type = _accelerator_type(props.name, props.total_memory)
            devices.append(Device(f"cuda:{index}", accel, gpu_type, int(props.total_memory), props.name))
    except RuntimeError as exc:  # a broken driver must not take the CPU down with it
        log.warning("CUDA probe failed: %s", exc)
    return tuple(devices)


def device_for_config(config_id: str) -> Device | None:
    """The local device a config id names, or ``None``."""
    return next((d for d in probe_devices() if d.config_id == config_id), None)


def estimate_bytes(parameters: int | None, device: Device) -> int:
    """Memory to serve ``parameters`` weights: fp32 on CPU, bf16 on GPU, plus 20% and 512 MiB of headroom."""
    per_param = 4 if device.key == "cpu" else 2
    return int((parameters or 0) * per_param * 1.2) + 512 * 1024**2


def fits(parameters: int | None, device: Device) -> bool:
    """Whether a model can be served on ``device`` (the CPU always can: it swaps rather than fails)."""
    return device.key == "cpu" or estimate_bytes(parameters, device) <= device.memory_bytes
