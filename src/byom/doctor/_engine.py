"""The local engine: is it answering at its URL, and who holds its data dir's lock."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import httpx2
from pydantic import BaseModel

from byom.config import Settings, engine_data_dir, is_loopback
from byom.doctor._check import Check

__all__ = ["EngineInfo", "check_engine", "probe_engine"]

_ENGINE_TIMEOUT_S = 2.0


class EngineInfo(BaseModel):
    url: str
    reachable: bool
    device: str | None = None  # where it trains, as its /health says
    answer: str  # what the URL said, in words
    data_dir: str
    holder_pid: int | None = None  # from the lock's pid file: the engine holding the data dir
    holder_url: str | None = None
    holder_alive: bool | None = None


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
