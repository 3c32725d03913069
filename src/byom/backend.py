"""Which backend the job tools talk to, and the local engine started when it is not running.

    TOGETHER_API_KEY set (or BYOM_BACKEND=together)  →  Together's cloud (TOGETHER_BASE_URL overrides the root)
    otherwise (or BYOM_BACKEND=local)                →  the local engine at BYOM_ENGINE_URL

Both speak the same REST API, so the tools use one ``TogetherClient``; only the URL and key differ. The
local engine is started *detached* (its own session / process group, its log in the byom data dir): it
must outlive the MCP server, which hosts restart often, and its data-dir lock keeps a second one from
starting. Its key is read from its data dir once it is up.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import anyio
import httpx2
from pydantic import BaseModel, Field

from byom.config import Settings, engine_data_dir, engine_key_path, is_loopback
from byom.errors import ConfigError, TogetherAPIError
from byom.storage import open_private, private_dir

if TYPE_CHECKING:
    from byom.together import TogetherClient

__all__ = ["ENGINE_LOG", "Backend", "BackendInfo", "Project", "connect", "connect_local", "describe_backend"]

log = logging.getLogger(__name__)

ENGINE_LOG = "engine.log"  # in the byom data dir, beside (not inside) the engine's own data dir
# How long a just-started engine may take to answer /health (imports torch lazily, so seconds).
_START_TIMEOUT_S = 60.0
# Secrets the engine never needs: they stay out of its environment.
_NOT_FOR_ENGINE = ("TOGETHER_API_KEY", "WANDB_API_KEY", "BYOM_MCP_TOKEN")


class Project(BaseModel):
    """The v2 project every deployment call is scoped to (ref 2026-11 §3.2)."""

    id: str
    slug: str | None = None


class BackendInfo(BaseModel):
    """What a user may know about the active backend: never a credential's value, only whether it is set."""

    kind: Literal["local", "together"]
    base_url: str
    chosen_by: str
    costs_money: bool
    credentials: dict[str, bool]
    engine_key_file: str | None = Field(
        description="The local engine's key file, read by path (never shown): what your own code sends as its key."
    )
    engine_autostart: bool
    spending_limits: dict[str, float | None]
    read_only: bool
    auto_confirm: bool


def describe_backend(settings: Settings) -> BackendInfo:
    kind = settings.backend
    if settings.backend_choice != "auto":
        chosen_by = f"BYOM_BACKEND={settings.backend_choice}"
    elif kind == "together":
        chosen_by = "TOGETHER_API_KEY is set"
    else:
        chosen_by = "no TOGETHER_API_KEY: the local engine"
    return BackendInfo(
        kind=kind,
        base_url=settings.together_base_url if kind == "together" else settings.engine_url,
        chosen_by=chosen_by,
        costs_money=kind == "together",
        credentials={
            "TOGETHER_API_KEY": settings.together_api_key is not None,
            "TOGETHER_PROJECT_ID": settings.together_project_id is not None,
            "HF_TOKEN": settings.hf_token is not None,
            "WANDB_API_KEY": settings.wandb_api_key is not None,
            "BYOM_ENGINE_API_KEY": settings.engine_api_key is not None,
        },
        engine_key_file=(
            str(engine_key_path(settings)) if kind == "local" and settings.engine_api_key is None else None
        ),
        engine_autostart=settings.engine_autostart,
        spending_limits={"BYOM_MAX_USD": settings.max_usd, "BYOM_MAX_USD_PER_DAY": settings.max_usd_per_day},
        read_only=settings.read_only,
        auto_confirm=settings.auto_confirm,
    )


@dataclass
class Backend:
    """The active backend: its client, and the v2 project (found once, on first use)."""

    kind: Literal["local", "together"]
    client: TogetherClient
    settings: Settings
    _project: Project | None = field(default=None, repr=False)
    # What replaces the network (tests: the engine over ASGI); None: the real one.
    transport: httpx2.AsyncBaseTransport | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.client.base_url

    @property
    def costs_money(self) -> bool:
        return self.kind == "together"

    @property
    def label(self) -> str:
        return (
            f"the local engine ({self.base_url})"
            if self.kind == "local"
            else f"Together AI ({self.base_url})"
        )

    async def project(self) -> Project:
        """``TOGETHER_PROJECT_ID``, else the project of the key as ``GET /v3/whoami`` reports it."""
        if self._project is not None:
            return self._project
        pid = self.settings.together_project_id if self.kind == "together" else None
        if pid:
            # The slug (the prefix of endpoint names) is nice to have; an explicit id never waits on whoami.
            try:
                found = (await self.client.whoami()).project
            except TogetherAPIError:
                found = None
            self._project = Project(
                id=pid, slug=found.slug if found is not None and found.id == pid else None
            )
            return self._project
        me = await self.client.whoami()
        found = me.project
        if found is not None and found.id:
            self._project = Project(id=found.id, slug=found.slug)
        else:
            raise ConfigError(
                "Deployments are scoped to a Together project, and this API key is not a project key "
                f"(whoami type {me.type!r}). Set TOGETHER_PROJECT_ID in the server's environment and restart it."
            )
        return self._project

    async def aclose(self) -> None:
        await self.client.aclose()


async def connect(settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> Backend:
    """The backend the settings choose; the local engine is started first when it is not running.

    ``transport`` replaces the network (tests pass the engine app over ASGI); no engine is started then.
    """
    from byom.together import (
        TogetherClient,  # the client and its shapes load on the first connect, not at start
    )

    if settings.backend == "together":
        if settings.together_api_key is None:
            raise ConfigError(
                "BYOM_BACKEND=together needs TOGETHER_API_KEY in the server's environment (set it in the MCP host's "
                "config and restart the server), or unset BYOM_BACKEND to use the local engine."
            )
        client = TogetherClient.from_settings(settings, transport=transport)
        return Backend("together", client, settings, transport=transport)
    return await connect_local(settings, transport=transport)


async def connect_local(settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> Backend:
    """The local engine, started first when it is not running: the job tools' backend, or where a Together
    fine-tune is tried for free (``ask_model(where="local")``) whichever backend the job tools use."""
    from byom.together import TogetherClient  # as in connect: loaded on the first connect

    if transport is None:
        await anyio.to_thread.run_sync(ensure_engine, settings)
    return Backend(
        "local", TogetherClient.for_engine(settings, transport=transport), settings, transport=transport
    )


def ensure_engine(settings: Settings) -> None:
    """Make sure the local engine answers at ``settings.engine_url``; start it detached if allowed."""
    if _healthy(settings.engine_url):
        return
    host, port = _host_port(settings.engine_url)
    if not settings.engine_autostart or not is_loopback(host):
        raise ConfigError(
            f"The local engine does not answer at {settings.engine_url}. Start it with `byom engine --port {port}` "
            "(or fix BYOM_ENGINE_URL), or set TOGETHER_API_KEY to use Together's cloud."
        )
    logfile = _start_engine(settings, port)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _healthy(settings.engine_url):
            log.info("started the local engine at %s (log: %s)", settings.engine_url, logfile)
            return
        time.sleep(0.25)
    raise ConfigError(
        f"The local engine did not start at {settings.engine_url} within {_START_TIMEOUT_S:.0f} s. Its log: "
        f"{logfile}. Fix what it says (often: the port is taken, or another engine holds the data dir), or run "
        "`byom engine` yourself."
    )


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


def _healthy(url: str) -> bool:
    try:
        return httpx2.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx2.HTTPError:
        return False


def _start_engine(settings: Settings, port: int) -> Path:
    data_dir = engine_data_dir(settings)
    private_dir(settings.data_dir)
    logfile = settings.data_dir / ENGINE_LOG
    args = [sys.executable, "-m", "byom", "engine", "--port", str(port), "--data-dir", str(data_dir)]
    for allowed in settings.engine_allow_dirs:
        args += ["--allow-dir", str(allowed)]
    env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_ENGINE}
    fd = open_private(logfile)
    try:
        common = {"stdin": subprocess.DEVNULL, "stdout": fd, "stderr": fd, "env": env, "close_fds": True}
        if (
            sys.platform == "win32"
        ):  # its own process group, no console: closing the host does not take it down
            flags = (
                subprocess.DETACHED_PROCESS
                | subprocess.CREATE_NEW_PROCESS_GROUP
                | subprocess.CREATE_NO_WINDOW
            )
            subprocess.Popen(args, creationflags=flags, **common)  # type: ignore[call-overload]
        else:  # its own session: the host's SIGHUP / process-group kill does not reach it
            subprocess.Popen(args, start_new_session=True, **common)  # type: ignore[call-overload]
    finally:
        os.close(fd)
    log.info("starting the local engine: %s (data dir %s)", settings.engine_url, data_dir)
    return logfile
