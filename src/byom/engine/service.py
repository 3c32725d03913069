"""Run the engine as a service: ``byom engine`` → ``serve(...)`` (uvicorn on loopback by default)."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import sys
from pathlib import Path

from byom.config import ENGINE_KEY_FILE, Settings, engine_data_dir, read_engine_key
from byom.errors import ConfigError

__all__ = ["ensure_engine_key", "serve"]

log = logging.getLogger("byom.engine")


def ensure_engine_key(data_dir: Path) -> str:
    """The stored key, or a new one written with mode 0600 on first start."""
    existing = read_engine_key(data_dir)
    if existing:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    path = data_dir / ENGINE_KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    return key


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
) -> None:
    """Start the engine and block until it stops (Ctrl-C / SIGTERM)."""
    import uvicorn

    from byom.engine.app import create_app
    from byom.engine.state import EngineConfig, EngineState

    if not logging.getLogger().handlers:
        # Where it listens and where its key is must reach the user even when the caller set up no logging.
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    data_dir = (data_dir or engine_data_dir(settings)).expanduser().resolve()
    explicit = api_key or (settings.engine_api_key.get_secret_value() if settings.engine_api_key else None)
    if not _is_loopback(host) and not explicit:
        raise ConfigError(
            f"Refusing to listen on {host} (reachable from other machines) with a generated key. Pass --api-key or set"
            " BYOM_ENGINE_API_KEY, or listen on 127.0.0.1."
        )
    key = explicit or ensure_engine_key(data_dir)
    config_fields: dict[str, object] = {
        "allowed_roots": (Path.home().resolve(), data_dir, *(p.expanduser().resolve() for p in allow_dirs)),
        "device": device,
    }
    if max_upload_bytes is not None:
        config_fields["max_upload_bytes"] = max_upload_bytes
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    base_url = f"http://{shown_host}:{port}"
    state = EngineState.open(
        data_dir,
        api_key=key,
        base_url=base_url,
        settings=settings,
        config=EngineConfig(**config_fields),  # type: ignore[arg-type]
    )
    app = create_app(state)
    log.info("byom engine listening on %s (data dir %s)", base_url, data_dir)
    if explicit:
        log.info("API key: the one given by --api-key / BYOM_ENGINE_API_KEY")
    else:
        log.info("API key file: %s", data_dir / ENGINE_KEY_FILE)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    finally:
        state.close()
