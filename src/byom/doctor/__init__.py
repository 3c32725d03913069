"""``byom doctor``: what this machine has, what byom will use, and one fix for each problem found.

Read-only and quick: it never starts the engine, never sends a credential anywhere, and runs its three slow
probes (the device probe's torch import, the engine's ``/health``, the Hub) at once with short timeouts.
Credentials are reported as set or not set, nothing more. A *problem* (non-zero exit) is something that
stops byom working as configured; a *warning* is worth knowing but leaves it working.
"""

from byom.doctor._check import Check
from byom.doctor._devices import probe_accelerators
from byom.doctor._packages import PackageInfo, check_training_packages, package_info
from byom.doctor._report import DoctorReport, diagnose, render_doctor
from byom.doctor.hosts import HostSnippet, host_snippets, http_host_snippets

__all__ = [
    "Check",
    "DoctorReport",
    "HostSnippet",
    "PackageInfo",
    "check_training_packages",
    "diagnose",
    "host_snippets",
    "http_host_snippets",
    "package_info",
    "probe_accelerators",
    "render_doctor",
]
