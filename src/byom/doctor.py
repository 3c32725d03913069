"""``byom doctor``: what this machine has, what byom will use, and one fix for each problem found.

Read-only and quick: it never starts the engine, never sends a credential anywhere, and runs its three slow
probes (the device probe's torch import, the engine's ``/health``, the Hub) at once with short timeouts.
Credentials are reported as set or not set, nothing more. A *problem* (non-zero exit) is something that
stops byom working as configured; a *warning* is worth knowing but leaves it working.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import httpx2
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, computed_field

from byom import __version__
from byom.backend import BackendInfo, describe_backend
from byom.config import DEFAULT_MCP_HTTP_PORT, Settings, engine_data_dir, is_loopback, load_settings
from byom.errors import ConfigError

__all__ = [
    "Check",
    "DoctorReport",
    "HostSnippet",
    "PackageInfo",
    "diagnose",
    "host_snippets",
    "http_host_snippets",
    "package_info",
    "render_doctor",
]

Status = Literal["ok", "warning", "problem"]

DISTRIBUTION = "byom-mcp"
_CORE = ("mcp", "pydantic", "huggingface_hub", "httpx2")
_TRAINING = (
    "torch",
    "transformers",
    "peft",
)  # the ones named in the report; the rest of `local` is checked too
_ENGINE_TIMEOUT_S = 2.0
_HUB_TIMEOUT_S = 3.0
_PROBE_TIMEOUT_S = 20.0
_INSTALL_LOCAL = (
    'pip install "byom-mcp[local]" (from a clone: pip install -e ".[local]"); on a laptop without a GPU install '
    "the CPU build of torch first: pip install torch --index-url https://download.pytorch.org/whl/cpu"
)
# Credentials byom reads. The stdio hosts pass the first five; BYOM_MCP_TOKEN only matters for `byom mcp --http`.
_HTTP_ONLY = ("BYOM_MCP_TOKEN",)


class Check(BaseModel):
    name: str
    status: Status
    detail: str
    fix: str | None = None


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


class EngineInfo(BaseModel):
    url: str
    reachable: bool
    device: str | None = None  # where it trains, as its /health says
    answer: str  # what the URL said, in words
    data_dir: str
    holder_pid: int | None = None  # from the lock's pid file: the engine holding the data dir
    holder_url: str | None = None
    holder_alive: bool | None = None


class DeviceInfo(BaseModel):
    key: str
    description: str
    memory_gib: int


class HubInfo(BaseModel):
    endpoint: str
    offline_mode: bool
    reachable: bool | None  # None: not tried (offline mode)
    answer: str


class HostSnippet(BaseModel):
    host: str
    where: str  # the file to put it in, or "shell"
    format: Literal["json", "shell"]
    text: str


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


# ---- packages ------------------------------------------------------------------------------------------


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


def _packages() -> tuple[list[PackageInfo], list[PackageInfo]]:
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


# ---- settings, backend and data dirs ------------------------------------------------------------------


def credentials(settings: Settings, backend: BackendInfo) -> dict[str, bool]:
    """Which credentials are set: names only, never a value, its length or its prefix."""
    return {**backend.credentials, "BYOM_MCP_TOKEN": settings.mcp_token is not None}


def check_backend(settings: Settings, info: BackendInfo) -> list[Check]:
    checks = [
        Check(
            name="backend",
            status="ok",
            detail=f"{info.kind} at {info.base_url} ({info.chosen_by})"
            + ("; costs money" if info.costs_money else ""),
        )
    ]
    if settings.backend == "together" and settings.together_api_key is None:
        checks.append(
            Check(
                name="backend",
                status="problem",
                detail="BYOM_BACKEND=together but TOGETHER_API_KEY is not set: every job tool fails",
                fix="Set TOGETHER_API_KEY in the MCP host's config for byom, or unset BYOM_BACKEND to use the "
                "local engine.",
            )
        )
    if settings.backend_choice == "local" and settings.together_api_key is not None:
        # A deliberate choice (try it locally first), so not a failure; but the key then does nothing.
        checks.append(
            Check(
                name="backend",
                status="warning",
                detail="TOGETHER_API_KEY is set, but BYOM_BACKEND=local: jobs run on this machine and the key "
                "is unused",
                fix="Unset BYOM_BACKEND to use Together's cloud, or remove TOGETHER_API_KEY if local is meant.",
            )
        )
    return checks


def check_private_dir(path: Path, label: str) -> Check:
    """A byom data dir: writable by this user, and 0700 (it holds data, weights and keys)."""
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK | os.X_OK):
            return Check(name=label, status="ok", detail=f"{path} (created on first use)")
        return Check(
            name=label,
            status="problem",
            detail=f"{path} does not exist and {parent} is not writable",
            fix=f"Create it (mkdir -p {shlex.quote(str(path))} && chmod 700 {shlex.quote(str(path))}), or set "
            "BYOM_DATA_DIR to a directory of yours.",
        )
    if not path.is_dir():
        return Check(
            name=label,
            status="problem",
            detail=f"{path} is not a directory",
            fix="Move it away, or set BYOM_DATA_DIR to another directory.",
        )
    if not os.access(path, os.W_OK | os.X_OK):
        return Check(
            name=label,
            status="problem",
            detail=f"{path} is not writable by this user",
            fix=f"Fix its owner (chown -R $USER {shlex.quote(str(path))}), or set BYOM_DATA_DIR to another "
            "directory.",
        )
    if os.name == "posix":
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            return Check(
                name=label,
                status="problem",
                detail=f"{path} has mode {mode:04o}: other users can read training data, weights and keys",
                fix=f"chmod -R go-rwx {shlex.quote(str(path))}",
            )
    return Check(name=label, status="ok", detail=str(path))


def _engine_dir_check(data_dir: Path) -> Check | None:
    from byom.engine.private import check_data_dir

    try:
        check_data_dir(data_dir)
    except ConfigError as exc:
        return Check(name="engine data dir", status="problem", detail=str(exc), fix=str(exc))
    return None


# ---- the engine ----------------------------------------------------------------------------------------


def probe_engine(settings: Settings) -> EngineInfo:
    """GET the engine's ``/health`` (no key needed) and read who holds its data dir's lock."""
    import psutil

    data_dir = engine_data_dir(settings)
    from byom.engine.service import read_holder

    pid, url = read_holder(data_dir) or (None, None)
    url = url or None
    reachable, device = False, None
    try:
        resp = httpx2.get(f"{settings.engine_url}/health", timeout=_ENGINE_TIMEOUT_S)
    except httpx2.HTTPError as exc:
        answer = f"no answer ({type(exc).__name__})"
    else:
        body = _json_or_none(resp)
        if resp.status_code == 200 and isinstance(body, dict) and body.get("status") == "ok":
            reachable, device = True, body.get("device")
            answer = "running"
        else:
            answer = f"HTTP {resp.status_code} from /health: not a byom engine"
    return EngineInfo(
        url=settings.engine_url,
        reachable=reachable,
        device=device if isinstance(device, str) else None,
        answer=answer,
        data_dir=str(data_dir),
        holder_pid=pid,
        holder_url=url,
        holder_alive=psutil.pid_exists(pid) if pid is not None else None,
    )


def _json_or_none(resp: httpx2.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def check_engine(settings: Settings, engine: EngineInfo) -> list[Check]:
    from byom.engine.service import HOLDER_FILE

    holder = Path(engine.data_dir) / HOLDER_FILE
    needed = settings.backend == "local"
    checks: list[Check] = []
    if engine.holder_pid is not None and engine.holder_alive is False:
        # The lock itself (an OS file lock) went with the process; only its pid file is left behind.
        checks.append(
            Check(
                name="engine lock",
                status="warning",
                detail=f"{holder} names pid {engine.holder_pid}, which is not running: the last engine was killed "
                "or crashed (the lock went with it, so a new engine can start)",
                fix=f"Remove the stale pid file: rm {shlex.quote(str(holder))}",
            )
        )
    if engine.reachable:
        where = f" (holds {engine.data_dir}: pid {engine.holder_pid})" if engine.holder_alive else ""
        trains = f", trains on {engine.device}" if engine.device else ""
        checks.append(Check(name="engine", status="ok", detail=f"running at {engine.url}{trains}{where}"))
        return checks
    port = engine.url.rsplit(":", 1)[-1].strip("/")
    if engine.holder_alive:
        if engine.holder_url and engine.holder_url != engine.url:
            detail = (
                f"an engine (pid {engine.holder_pid}) holds {engine.data_dir} at {engine.holder_url}, but byom "
                f"looks for it at {engine.url}: a second one cannot start on the same data dir"
            )
            fix = f"Set BYOM_ENGINE_URL={engine.holder_url}, or stop pid {engine.holder_pid}."
        else:
            detail = (
                f"pid {engine.holder_pid} holds {engine.data_dir} but {engine.url} gives {engine.answer} "
                "(starting, or hung)"
            )
            fix = f"Run byom doctor again in a few seconds; if it persists, stop pid {engine.holder_pid} and restart it."
        checks.append(Check(name="engine", status="problem" if needed else "warning", detail=detail, fix=fix))
        return checks
    if engine.answer.startswith("HTTP"):
        checks.append(
            Check(
                name="engine",
                status="problem" if needed else "warning",
                detail=f"{engine.url}: {engine.answer} (another program uses the port)",
                fix="Point byom at a free port: BYOM_ENGINE_URL=http://127.0.0.1:<port> (it starts there), or "
                "stop that program.",
            )
        )
    elif not needed:
        checks.append(
            Check(
                name="engine",
                status="ok",
                detail=f"not running at {engine.url} (not needed: backend Together)",
            )
        )
    elif settings.engine_autostart and is_loopback(_host(engine.url)):
        checks.append(
            Check(
                name="engine",
                status="ok",
                detail=f"not running at {engine.url}; byom-mcp starts it on demand",
            )
        )
    else:
        why = (
            "BYOM_NO_ENGINE_AUTOSTART is set"
            if not settings.engine_autostart
            else "it is not on this machine"
        )
        checks.append(
            Check(
                name="engine",
                status="problem",
                detail=f"not running at {engine.url}, and byom-mcp will not start it ({why})",
                fix=f"Start it: byom engine --port {port} (or fix BYOM_ENGINE_URL), or set TOGETHER_API_KEY to "
                "use Together's cloud.",
            )
        )
    return checks


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or "127.0.0.1"


# ---- devices, the Hub, the ceiling ---------------------------------------------------------------------


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


def probe_hub() -> HubInfo:
    from huggingface_hub import constants

    endpoint = constants.ENDPOINT.rstrip("/")
    if constants.HF_HUB_OFFLINE:
        return HubInfo(endpoint=endpoint, offline_mode=True, reachable=None, answer="offline mode set")
    try:
        # No token sent: any HTTP answer (401 included) proves the Hub is reachable.
        resp = httpx2.get(f"{endpoint}/api/whoami-v2", timeout=_HUB_TIMEOUT_S)
    except httpx2.HTTPError as exc:
        return HubInfo(
            endpoint=endpoint, offline_mode=False, reachable=False, answer=f"no answer ({type(exc).__name__})"
        )
    return HubInfo(endpoint=endpoint, offline_mode=False, reachable=True, answer=f"HTTP {resp.status_code}")


def check_hub(hub: HubInfo) -> Check:
    if hub.offline_mode:
        return Check(
            name="hub",
            status="warning",
            detail=f"HF_HUB_OFFLINE is set: Hub model ids come from the local cache only ({hub.endpoint})",
            fix="Unset HF_HUB_OFFLINE to inspect Hub models; local model directories work either way.",
        )
    if hub.reachable:
        return Check(name="hub", status="ok", detail=f"{hub.endpoint} reachable ({hub.answer})")
    # Only Hub model ids need it: a local directory trains and serves without the network.
    return Check(
        name="hub",
        status="warning",
        detail=f"{hub.endpoint} is not reachable: {hub.answer}; Hub model ids cannot be inspected or downloaded",
        fix="Local model directories still work. For the Hub: check the network, set HTTPS_PROXY, or HF_ENDPOINT "
        "to a mirror.",
    )


def check_ceiling(settings: Settings, transformers: PackageInfo | None) -> Check:
    default = Settings.model_fields["transformers_ceiling"].default
    source = "default" if settings.transformers_ceiling == default else "from BYOM_TRANSFORMERS_CEILING"
    detail = f"transformers <= {settings.transformers_ceiling} ({source}): models saved with a newer one are flagged"
    if transformers is not None and transformers.version is not None:
        detail += f"; installed here: {transformers.version}"
    return Check(name="transformers ceiling", status="ok", detail=detail)


# ---- MCP host snippets ---------------------------------------------------------------------------------


def server_command() -> tuple[str, list[str]]:
    """The absolute command a host launches: the ``byom-mcp`` script beside this Python, else ``python -m``."""
    # Not resolved: a venv's python is a symlink, and resolving it would leave the venv.
    bindir = Path(os.path.abspath(sys.executable)).parent
    script = bindir / ("byom-mcp.exe" if os.name == "nt" else "byom-mcp")
    if script.exists():
        return str(script), []
    return os.path.abspath(sys.executable), ["-m", "byom", "mcp"]


def _claude_desktop_config() -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return (
            Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
            / "Claude"
            / "claude_desktop_config.json"
        )
    return home / ".config" / "Claude" / "claude_desktop_config.json"  # Linux builds of Claude Desktop


def host_snippets(command: str, args: list[str], env_names: list[str]) -> list[HostSnippet]:
    """Each host's config for byom with this machine's paths; ``env_names`` appear as placeholders only."""
    placeholders = {name: f"<your {name}>" for name in env_names}
    entry: dict[str, Any] = {"command": command, "args": args}
    if placeholders:
        entry["env"] = placeholders
    desktop = json.dumps({"mcpServers": {"byom": entry}}, indent=2)
    inputs = [
        {"type": "promptString", "id": _input_id(n), "description": n, "password": True} for n in env_names
    ]
    vscode_entry: dict[str, Any] = {"type": "stdio", "command": command, "args": args}
    if env_names:
        vscode_entry["env"] = {n: f"${{input:{_input_id(n)}}}" for n in env_names}
    vscode: dict[str, Any] = {"inputs": inputs} if inputs else {}
    vscode["servers"] = {"byom": vscode_entry}
    return [
        HostSnippet(host="Claude Desktop", where=str(_claude_desktop_config()), format="json", text=desktop),
        HostSnippet(
            host="Claude Code", where="shell", format="shell", text=_claude_code(command, args, env_names)
        ),
        HostSnippet(
            host="Cursor", where=str(Path.home() / ".cursor" / "mcp.json"), format="json", text=desktop
        ),
        HostSnippet(
            host="VS Code",
            where=str(Path(".vscode") / "mcp.json"),
            format="json",
            text=json.dumps(vscode, indent=2),
        ),
    ]


def http_host_snippets(url: str, token_file: Path | None) -> list[HostSnippet]:
    """Host configs for ``byom mcp --http`` at ``url``: each sends the bearer token it requires, read from
    ``token_file`` (generated on the server's first start), or from ``$BYOM_MCP_TOKEN`` when that is None.
    The token's value is never printed."""
    if token_file is None:
        shell_token = "$env:BYOM_MCP_TOKEN" if os.name == "nt" else "$BYOM_MCP_TOKEN"
        where = "the BYOM_MCP_TOKEN the server runs with"
    else:
        quoted = f"'{token_file}'" if os.name == "nt" else shlex.quote(str(token_file))
        shell_token = f"$(Get-Content {quoted})" if os.name == "nt" else f"$(cat {quoted})"
        where = f"the contents of {token_file}"
    claude = f'claude mcp add --transport http byom {url} --header "Authorization: Bearer {shell_token}"'
    vscode = {
        "inputs": [
            {
                "type": "promptString",
                "id": "byom-mcp-token",
                "description": f"byom's MCP token: {where}",
                "password": True,
            }
        ],
        "servers": {
            "byom": {
                "type": "http",
                "url": url,
                "headers": {"Authorization": "Bearer ${input:byom-mcp-token}"},
            }
        },
    }
    return [
        HostSnippet(host="Claude Code (byom mcp --http)", where="shell", format="shell", text=claude),
        HostSnippet(
            host="VS Code (byom mcp --http)",
            where=str(Path(".vscode") / "mcp.json"),
            format="json",
            text=json.dumps(vscode, indent=2),
        ),
    ]


def _input_id(name: str) -> str:
    return name.lower().replace("_", "-")


def _claude_code(command: str, args: list[str], env_names: list[str]) -> str:
    # The key comes from the user's own shell variable at add time: nothing secret is printed here.
    if os.name == "nt":
        envs = [f'--env "{n}=$env:{n}"' for n in env_names]
        tail = subprocess.list2cmdline([command, *args])
    else:
        envs = [f'--env {n}="${n}"' for n in env_names]
        tail = shlex.join([command, *args])
    return " ".join(["claude mcp add byom", *envs, "--", tail])


# ---- the whole report ----------------------------------------------------------------------------------


def diagnose(environ: Mapping[str, str] | None = None, *, probe: ProbeFn = default_probe) -> DoctorReport:
    """Every check, the slow probes at once; never raises for what it finds."""
    checks: list[Check] = []
    core, training = _packages()
    checks += _python_checks(core)
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
        checks.append(check_private_dir(settings.data_dir, "data dir"))
        engine_dir = engine_data_dir(settings)
        checks.append(check_private_dir(engine_dir, "engine data dir"))
        dir_problem = _engine_dir_check(engine_dir)
        if dir_problem is not None:
            checks.append(dir_problem)
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


def _python_checks(core: list[PackageInfo]) -> list[Check]:
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
