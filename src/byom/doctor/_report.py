"""The whole ``byom doctor`` report: every check, the slow probes at once, and its text."""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel, computed_field

from byom import __version__
from byom.backend import BackendInfo, describe_backend
from byom.config import DEFAULT_MCP_HTTP_PORT, Settings, load_settings
from byom.doctor._check import Check
from byom.doctor._devices import DeviceInfo, ProbeFn, default_probe, probe_accelerators
from byom.doctor._engine import EngineInfo, check_engine, probe_engine
from byom.doctor._hub import HubInfo, check_hub, probe_hub
from byom.doctor._packages import PackageInfo, check_ceiling, check_python, check_training_packages, packages
from byom.doctor._settings import check_backend, check_data_dirs, credentials
from byom.doctor.hosts import HostSnippet, host_snippets, http_host_snippets, server_command
from byom.errors import ConfigError

__all__ = ["DoctorReport", "diagnose", "render_doctor"]

# Credentials byom reads. The stdio hosts pass the first five; BYOM_MCP_TOKEN only matters for `byom mcp --http`.
_HTTP_ONLY = ("BYOM_MCP_TOKEN",)


class DoctorReport(BaseModel):
    byom: str
    python: str
    executable: str
    platform: str
    packages: list[PackageInfo]
    backend: BackendInfo | None
    credentials: dict[str, bool]
    engine: EngineInfo | None
    devices: list[DeviceInfo]
    hub: HubInfo
    transformers_ceiling: str | None
    hosts: list[HostSnippet]
    checks: list[Check]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return not any(c.status == "problem" for c in self.checks)


def diagnose(environ: Mapping[str, str] | None = None, *, probe: ProbeFn = default_probe) -> DoctorReport:
    """Every check, the slow probes at once; never raises for what it finds."""
    checks: list[Check] = []
    core, training = packages()
    checks += check_python(core)
    try:
        settings: Settings | None = load_settings(environ)
    except ConfigError as exc:
        settings = None
        checks.append(Check(name="settings", status="problem", detail=str(exc), fix=str(exc)))
    with ThreadPoolExecutor(max_workers=3) as pool:
        devices_f = pool.submit(probe_accelerators, probe)
        hub_f = pool.submit(probe_hub)
        engine_f = pool.submit(probe_engine, settings) if settings is not None else None
        engine = engine_f.result() if engine_f is not None else None
        hub = hub_f.result()
        devices, device_check = devices_f.result()
    backend = describe_backend(settings) if settings is not None else None
    creds: dict[str, bool] = {}
    if settings is not None and backend is not None and engine is not None:
        creds = credentials(settings, backend)
        checks += check_backend(settings, backend)
        checks.append(check_training_packages(training, settings.backend))
        checks += check_data_dirs(settings)
        checks += check_engine(settings, engine)
        checks.append(check_ceiling(settings, next((p for p in training if p.name == "transformers"), None)))
    checks.append(device_check)
    checks.append(check_hub(hub))
    command, args = server_command()
    if args:
        checks.append(
            Check(
                name="byom-mcp script",
                status="warning",
                detail=f"no byom-mcp beside {sys.executable}: the snippets run python -m byom mcp",
                fix='Install byom-mcp into this environment (pip install -e ".[local]") to get the script.',
            )
        )
    env_names = [n for n, is_set in creds.items() if is_set and n not in _HTTP_ONLY]
    return DoctorReport(
        byom=__version__,
        python=platform.python_version(),
        executable=sys.executable,
        platform=platform.platform(terse=True),
        packages=[*core, *training],
        backend=backend,
        credentials=creds,
        engine=engine,
        devices=devices,
        hub=hub,
        transformers_ceiling=settings.transformers_ceiling if settings is not None else None,
        hosts=host_snippets(command, args, env_names) + _http_snippets(settings),
        checks=checks,
    )


def _http_snippets(settings: Settings | None) -> list[HostSnippet]:
    if settings is None:
        return []
    token_file = settings.mcp_token_path if settings.mcp_token is None else None
    return http_host_snippets(f"http://127.0.0.1:{DEFAULT_MCP_HTTP_PORT}/mcp", token_file)


_MARK = {"ok": "ok", "warning": "warn", "problem": "FAIL"}


def render_doctor(report: DoctorReport) -> str:
    lines = [f"byom doctor: byom {report.byom}, Python {report.python} ({report.platform})", ""]
    for check in report.checks:
        lines.append(f"  {_MARK[check.status]:<5} {check.name:<21} {check.detail}")
        if check.fix and check.status != "ok":
            lines.append(f"  {'':<5} {'':<21} fix: {check.fix}")
    if report.credentials:
        shown = ", ".join(f"{n} {'set' if v else 'not set'}" for n, v in report.credentials.items())
        lines += ["", f"Credentials: {shown}"]
    lines += ["", "MCP host configuration (this machine's paths; keys as placeholders):"]
    for snippet in report.hosts:
        where = "run:" if snippet.where == "shell" else f"in {snippet.where}:"
        lines += ["", f"{snippet.host}, {where}", *("    " + ln for ln in snippet.text.splitlines())]
    problems = sum(c.status == "problem" for c in report.checks)
    warnings = sum(c.status == "warning" for c in report.checks)
    verdict = "all checks pass" if not problems else f"{problems} problem{'s' * (problems != 1)} to fix"
    lines += ["", f"{verdict}; {warnings} warning{'s' * (warnings != 1)}."]
    return "\n".join(lines)
