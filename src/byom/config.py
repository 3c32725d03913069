"""Settings: every environment variable byom reads, read once.

Secrets are held as ``SecretStr`` so that a ``repr`` or a log line never shows them.
"""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "DEFAULT_ENGINE_PORT",
    "DEFAULT_MCP_HTTP_PORT",
    "ENGINE_KEY_FILE",
    "Settings",
    "engine_data_dir",
    "engine_key_path",
    "is_loopback",
    "load_settings",
    "read_engine_key",
]

DEFAULT_ENGINE_PORT = 8377
DEFAULT_MCP_HTTP_PORT = 8376


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        from byom.errors import ConfigError

        raise ConfigError(
            f"{name}={raw!r} is not a number. Set it to a number of seconds, or unset it."
        ) from None


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        from byom.errors import ConfigError

        raise ConfigError(
            f"{name}={raw!r} is not a whole number of at least 1. Set it to e.g. {default}, or unset it."
        )
    return int(raw)


def _user_dir(kind: str) -> Path:
    import platformdirs  # a few ms at every start, for a default most runs never read

    return Path(platformdirs.user_data_dir("byom") if kind == "data" else platformdirs.user_cache_dir("byom"))


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    # Hugging Face. None: fall back to huggingface_hub's own lookup (stored login).
    hf_token: SecretStr | None = None
    # Together AI cloud. Without a key, byom talks to the local engine.
    together_api_key: SecretStr | None = None
    together_base_url: str = "https://api.together.ai"
    together_project_id: str | None = None
    # The local engine.
    engine_url: str = f"http://127.0.0.1:{DEFAULT_ENGINE_PORT}"
    engine_api_key: SecretStr | None = None
    # Read when a Settings is made, not at import: the home and XDG variables of that moment decide.
    data_dir: Path = Field(default_factory=lambda: _user_dir("data"))
    cache_dir: Path = Field(default_factory=lambda: _user_dir("cache"))
    # Together's BYOM page states both ceilings in different versions; default to the newer.
    transformers_ceiling: str = "5.10"
    # How long Hub answers and the live catalog stay fresh.
    hub_cache_ttl: float = 600.0
    catalog_ttl: float = 86_400.0
    # `byom mcp --http`: the bearer token clients must send (else the one generated in ``mcp_token_path``),
    # and the Host names to accept besides the bind address.
    mcp_token: SecretStr | None = None
    mcp_allowed_hosts: tuple[str, ...] = ()
    # Which backend the job tools use: "auto" (Together when TOGETHER_API_KEY is set), "local", "together".
    backend_choice: Literal["auto", "local", "together"] = "auto"
    # Start the local engine (detached) when it is not running. Off: the tools say how to start it.
    engine_autostart: bool = True
    # Extra directories an autostarted engine may read local models from (home is always allowed).
    engine_allow_dirs: tuple[Path, ...] = ()
    # The most fine-tune jobs the engine holds waiting to start; one more is refused (429) until some start or go.
    engine_max_queued: int = 100
    # Weights & Biases: sent to Together as ``wandb_key`` when a job names a W&B project.
    wandb_api_key: SecretStr | None = None
    # Spending limits, enforced by the server whatever a client confirms (US dollars; None: no limit).
    max_usd: float | None = None
    max_usd_per_day: float | None = None
    # Hide every tool that spends or deletes; an allow-list of tool names; confirm without asking.
    read_only: bool = False
    tools: tuple[str, ...] | None = None
    auto_confirm: bool = False

    @property
    def backend(self) -> Literal["local", "together"]:
        """The backend the job tools use (``BYOM_BACKEND``; by default Together when a key is set)."""
        if self.backend_choice != "auto":
            return self.backend_choice
        return "together" if self.together_api_key is not None else "local"

    def secret_values(self) -> tuple[str, ...]:
        """Every configured credential's value: what no output may contain (the MCP server's last filter)."""
        held = (self.hf_token, self.together_api_key, self.engine_api_key, self.mcp_token, self.wandb_api_key)
        return tuple(s.get_secret_value() for s in held if s is not None)

    @property
    def ledger_path(self) -> Path:
        """The MCP server's own record of creates, confirmations and estimates (SQLite, 0600)."""
        return self.data_dir / "ledger.sqlite3"

    @property
    def mcp_token_path(self) -> Path:
        """The bearer token `byom mcp --http` generates on first start (0600) unless BYOM_MCP_TOKEN is set."""
        return self.data_dir / "mcp_token"


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    from byom.errors import ConfigError

    raise ConfigError(f"{name}={raw!r} is not a yes/no value. Set it to 1 or 0, or unset it.")


def _usd(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip().lstrip("$")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value < 0:
        from byom.errors import ConfigError

        raise ConfigError(f"{name}={raw!r} is not an amount of US dollars. Set it to e.g. 25, or unset it.")
    return value


def _backend(env: Mapping[str, str]) -> Literal["auto", "local", "together"]:
    raw = env.get("BYOM_BACKEND", "").strip().lower() or "auto"
    if raw not in ("auto", "local", "together"):
        from byom.errors import ConfigError

        raise ConfigError(f"BYOM_BACKEND={raw!r}: use local, together or auto (the default), or unset it.")
    return raw  # type: ignore[return-value]


def _tools(env: Mapping[str, str]) -> tuple[str, ...] | None:
    raw = env.get("BYOM_TOOLS", "").strip()
    return tuple(t.strip() for t in raw.split(",") if t.strip()) if raw else None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the environment once and return typed settings."""
    env = os.environ if environ is None else environ

    def secret(name: str) -> SecretStr | None:
        value = env.get(name, "").strip()
        return SecretStr(value) if value else None

    data_dir = env.get("BYOM_DATA_DIR")
    cache_dir = env.get("BYOM_CACHE_DIR")
    defaults = Settings()
    return Settings(
        hf_token=secret("HF_TOKEN"),
        together_api_key=secret("TOGETHER_API_KEY"),
        together_base_url=(env.get("TOGETHER_BASE_URL") or defaults.together_base_url).rstrip("/"),
        together_project_id=env.get("TOGETHER_PROJECT_ID") or None,
        engine_url=(env.get("BYOM_ENGINE_URL") or defaults.engine_url).rstrip("/"),
        engine_api_key=secret("BYOM_ENGINE_API_KEY"),
        data_dir=Path(data_dir).expanduser() if data_dir else defaults.data_dir,
        cache_dir=Path(cache_dir).expanduser() if cache_dir else defaults.cache_dir,
        transformers_ceiling=env.get("BYOM_TRANSFORMERS_CEILING") or defaults.transformers_ceiling,
        hub_cache_ttl=_float(env, "BYOM_HUB_CACHE_TTL", defaults.hub_cache_ttl),
        catalog_ttl=_float(env, "BYOM_CATALOG_TTL", defaults.catalog_ttl),
        mcp_token=secret("BYOM_MCP_TOKEN"),
        mcp_allowed_hosts=tuple(
            h.strip() for h in env.get("BYOM_MCP_ALLOWED_HOSTS", "").split(",") if h.strip()
        ),
        backend_choice=_backend(env),
        engine_autostart=not _flag(env, "BYOM_NO_ENGINE_AUTOSTART"),
        engine_allow_dirs=tuple(
            Path(d).expanduser() for d in env.get("BYOM_ENGINE_ALLOW_DIRS", "").split(os.pathsep) if d.strip()
        ),
        engine_max_queued=_count(env, "BYOM_ENGINE_MAX_QUEUED", defaults.engine_max_queued),
        wandb_api_key=secret("WANDB_API_KEY"),
        max_usd=_usd(env, "BYOM_MAX_USD"),
        max_usd_per_day=_usd(env, "BYOM_MAX_USD_PER_DAY"),
        read_only=_flag(env, "BYOM_READ_ONLY"),
        tools=_tools(env),
        auto_confirm=_flag(env, "BYOM_AUTO_CONFIRM"),
    )


# Where the local engine keeps its state, and the key file it writes there on first start: both sides
# (the engine, and the client that talks to it) find them here, so neither imports the other.
ENGINE_KEY_FILE = "api_key"


def engine_data_dir(settings: Settings) -> Path:
    """The engine's default data dir (``byom engine --data-dir`` overrides it)."""
    return settings.data_dir / "engine"


def engine_key_path(settings: Settings) -> Path:
    """The key file the engine at its default data dir writes on first start (what a user's code reads)."""
    return engine_data_dir(settings).expanduser() / ENGINE_KEY_FILE


def read_engine_key(data_dir: Path) -> str | None:
    """The engine's stored API key (``<data_dir>/api_key``), or None when the engine never started there."""
    try:
        key = (Path(data_dir) / ENGINE_KEY_FILE).read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return key or None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps a server on this machine (127.0.0.0/8, ::1, localhost).

    The engine and the MCP server over HTTP both refuse other hosts without a key or token of their own.
    """
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
