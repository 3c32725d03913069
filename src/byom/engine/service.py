"""Run the engine as a service: ``byom engine`` → ``serve(...)`` (uvicorn on loopback by default)."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from byom.config import ENGINE_KEY_FILE, Settings, engine_data_dir, is_loopback, read_engine_key
from byom.engine.private import PRIVATE_UMASK, check_data_dir
from byom.errors import ConfigError
from byom.storage import open_private, private_dir, private_secret

__all__ = ["HOLDER_FILE", "LOCK_FILE", "ensure_engine_key", "hold_data_dir", "read_holder", "serve"]

# One engine per data dir: the lock, and who holds it (pid, URL) for the second one's message.
LOCK_FILE = "engine.lock"
HOLDER_FILE = "engine.pid"

log = logging.getLogger("byom.engine")


def ensure_engine_key(data_dir: Path) -> str:
    """The stored key, or a new one written with mode 0600 on first start (the data dir made 0700)."""
    existing = read_engine_key(data_dir)
    if existing:
        return existing
    check_data_dir(data_dir)
    return private_secret(data_dir / ENGINE_KEY_FILE)


@contextlib.contextmanager
def hold_data_dir(data_dir: Path, base_url: str) -> Iterator[None]:
    """Hold the data dir's lock for as long as the engine runs: two engines on one dir would both run its
    jobs and load its deployments. The holder's pid and URL are written beside the lock for the message."""
    from filelock import FileLock, Timeout

    private_dir(data_dir)
    lock = FileLock(data_dir / LOCK_FILE, mode=0o600)
    holder = data_dir / HOLDER_FILE
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(
            f"Another byom engine ({_holder_text(data_dir)}) already uses {data_dir}. Stop it, or pass --data-dir."
        ) from None
    try:
        fd = open_private(holder, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"pid": os.getpid(), "url": base_url}, fh)
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


def read_holder(data_dir: Path) -> tuple[int, str] | None:
    """The pid and URL of the engine holding ``data_dir``, as it wrote them; None when none is written (or it is
    starting and has not yet)."""
    try:
        info = json.loads((data_dir / HOLDER_FILE).read_text(encoding="utf-8"))
        return int(info["pid"]), str(info.get("url") or "")
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _holder_text(data_dir: Path) -> str:
    holder = read_holder(data_dir)
    return f"pid {holder[0]}, {holder[1]}" if holder else "pid unknown"


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port clash is one clear line, not a crash."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"Port {port} is in use: another process listens there; pass --port.") from None
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pass --host or --port."
        ) from None
    # Accepted connections inherit this. Without it, a socket handed to uvicorn keeps Nagle's algorithm, and
    # uvicorn's separate header and body writes wait for the client's delayed ACK: ~40 ms on every answer.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    api_key: str | None,
    settings: Settings,
    *,
    allow_dirs: tuple[Path, ...] = (),
    device: str = "auto",
    max_upload_bytes: int | None = None,
    max_batch_size: int | None = None,
    batch_window_s: float | None = None,
) -> None:
    """Start the engine and block until it stops (Ctrl-C / SIGTERM)."""
    from byom.engine.app import create_app
    from byom.engine.state import EngineConfig, EngineState

    if not logging.getLogger().handlers:
        # Where it listens and where its key is must reach the user even when the caller set up no logging.
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    data_dir = (data_dir or engine_data_dir(settings)).expanduser().resolve()
    explicit = api_key or (settings.engine_api_key.get_secret_value() if settings.engine_api_key else None)
    if not is_loopback(host) and not explicit:
        raise ConfigError(
            f"Refusing to listen on {host} (reachable from other machines) with a generated key. Pass --api-key or set"
            " BYOM_ENGINE_API_KEY, or listen on 127.0.0.1."
        )
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    base_url = f"http://{shown_host}:{port}"
    # This process is the engine: whatever it creates (db, blobs, job dirs, exports) is the user's alone.
    os.umask(PRIVATE_UMASK)
    with hold_data_dir(data_dir, base_url):
        key = explicit or ensure_engine_key(data_dir)
        allowed_roots = (Path.home().resolve(), data_dir, *(p.expanduser().resolve() for p in allow_dirs))
        config_fields: dict[str, object] = {"allowed_roots": allowed_roots, "device": device}
        optional = {
            "max_upload_bytes": max_upload_bytes,
            "max_batch_size": max_batch_size,
            "batch_window_s": batch_window_s,
        }
        config_fields.update({name: value for name, value in optional.items() if value is not None})
        sock = _bind(host, port)
        state = EngineState.open(
            data_dir,
            api_key=key,
            base_url=base_url,
            settings=settings,
            config=EngineConfig.model_validate(config_fields),
        )

        def started() -> None:
            log.info("byom engine listening on %s (data dir %s)", base_url, data_dir)
            if explicit:
                log.info("API key: the one given by --api-key / BYOM_ENGINE_API_KEY")
            else:
                log.info("API key file: %s", data_dir / ENGINE_KEY_FILE)
            log.info("Local models may come from: %s", ", ".join(str(p) for p in allowed_roots))

        try:
            _run_uvicorn(create_app(state), sock, started)
        finally:
            state.close()
            sock.close()


def _run_uvicorn(app: Any, sock: socket.socket, started: Callable[[], None]) -> None:
    """Serve ``app`` on the bound ``sock``; ``started`` runs once uvicorn accepts connections (after the
    lifespan's startup), so "listening" is never logged by an engine that then fails to start."""
    import uvicorn

    class _Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                started()

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    with _sigterm_returns():
        _Server(config).run(sockets=[sock])


@contextlib.contextmanager
def _sigterm_returns() -> Iterator[None]:
    """After its graceful shutdown, uvicorn raises the SIGTERM it caught again under the handler it found: with
    the default one the process dies right there, before ``serve`` closes its state and gives up the data dir
    (a stale engine.pid, a database not closed). An ignoring handler lets ``run`` return instead."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are the main thread's (uvicorn installs none elsewhere either)
        return
    previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
