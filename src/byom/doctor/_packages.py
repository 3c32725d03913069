"""Python and the packages byom-mcp declares: the core, the ``local`` extra, the transformers ceiling."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel

from byom import __version__
from byom.config import Settings
from byom.doctor._check import Check

__all__ = [
    "DISTRIBUTION",
    "PackageInfo",
    "check_ceiling",
    "check_python",
    "check_training_packages",
    "package_info",
    "packages",
]

DISTRIBUTION = "byom-mcp"
_CORE = ("mcp", "pydantic", "huggingface_hub", "httpx2")
_TRAINING = (
    "torch",
    "transformers",
    "peft",
)  # the ones named in the report; the rest of `local` is checked too
_INSTALL_LOCAL = (
    'pip install "byom-mcp[local]" (from a clone: pip install -e ".[local]"); on a laptop without a GPU install '
    "the CPU build of torch first: pip install torch --index-url https://download.pytorch.org/whl/cpu"
)


class PackageInfo(BaseModel):
    name: str
    version: str | None  # None: not installed
    required: str = ""  # the version range byom-mcp declares, when it declares one

    @property
    def satisfied(self) -> bool:
        if self.version is None:
            return False
        try:
            return SpecifierSet(self.required).contains(Version(self.version), prereleases=True)
        except InvalidVersion:
            return True  # a local build with an odd version string: not ours to judge

    def text(self) -> str:
        if self.version is None:
            return f"{self.name} not installed"
        bad = "" if self.satisfied else f" (byom needs {self.required})"
        return f"{self.name} {self.version}{bad}"


def _declared(extra: str | None) -> dict[str, str]:
    """Version ranges byom-mcp's metadata declares (the core, or one extra), by normalised name."""
    try:
        lines = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return {}
    found: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        if extra is None:
            wanted = req.marker is None or req.marker.evaluate({"extra": ""})
        else:
            wanted = (
                req.marker is not None
                and "extra" in str(req.marker)
                and req.marker.evaluate({"extra": extra})
            )
        if wanted:
            found[_norm(req.name)] = str(req.specifier)
    return found


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def package_info(name: str, required: str = "") -> PackageInfo:
    """The installed version of ``name`` (None when absent), with the range byom needs."""
    try:
        version: str | None = metadata.version(name)
    except metadata.PackageNotFoundError:
        version = None
    return PackageInfo(name=name, version=version, required=required)


def packages() -> tuple[list[PackageInfo], list[PackageInfo]]:
    """The core packages, then the ``local`` extra's (the training ones first), each with the range byom needs."""
    core_ranges, local_ranges = _declared(None), _declared("local")
    core = [package_info(n, core_ranges.get(_norm(n), "")) for n in _CORE]
    names = list(_TRAINING) + sorted(n for n in local_ranges if n not in _TRAINING)
    return core, [package_info(n, local_ranges.get(_norm(n), "")) for n in names]


def check_training_packages(training: list[PackageInfo], backend: str) -> Check:
    """The ``local`` extra: needed to train on this machine, so a problem only when the backend is local."""
    bad = [p for p in training if not p.satisfied]
    shown = ", ".join(p.text() for p in training[: len(_TRAINING)] if p.satisfied)
    if not bad:
        return Check(name="training extras", status="ok", detail=shown)
    what = ", ".join(p.text() for p in bad)
    if backend == "local":
        return Check(
            name="training extras",
            status="problem",
            detail=f"the local engine cannot train: {what}",
            fix=_INSTALL_LOCAL,
        )
    return Check(
        name="training extras",
        status="warning",
        detail=f"{what}: jobs run on Together, so only the local engine would need them",
        fix=_INSTALL_LOCAL,
    )


def check_ceiling(settings: Settings, transformers: PackageInfo | None) -> Check:
    default = Settings.model_fields["transformers_ceiling"].default
    source = "default" if settings.transformers_ceiling == default else "from BYOM_TRANSFORMERS_CEILING"
    detail = f"transformers <= {settings.transformers_ceiling} ({source}): models saved with a newer one are flagged"
    if transformers is not None and transformers.version is not None:
        detail += f"; installed here: {transformers.version}"
    return Check(name="transformers ceiling", status="ok", detail=detail)


def check_python(core: list[PackageInfo]) -> list[Check]:
    checks = []
    try:
        needs = metadata.metadata(DISTRIBUTION)["Requires-Python"] or ""
    except metadata.PackageNotFoundError:
        needs = ""
    version = platform.python_version()
    if needs and not SpecifierSet(needs).contains(version):
        checks.append(
            Check(
                name="python",
                status="problem",
                detail=f"Python {version} at {sys.executable}; byom needs {needs}",
                fix=f"Make the virtual environment with a Python {needs}: python3.11 -m venv .venv",
            )
        )
    else:
        checks.append(Check(name="python", status="ok", detail=f"{version} at {sys.executable}"))
    bad = [p for p in core if not p.satisfied]
    shown = ", ".join(p.text() for p in core)
    checks.append(
        Check(
            name="packages",
            status="problem" if bad else "ok",
            detail=f"byom {__version__}, {shown}",
            fix='Reinstall byom-mcp into this environment: pip install -e "." (or pip install byom-mcp)'
            if bad
            else None,
        )
    )
    return checks
