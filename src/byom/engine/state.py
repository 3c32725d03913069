"""What every endpoint of the engine reads: ``request.app.state.engine`` is an ``EngineState``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from byom.config import Settings
from byom.engine.db import Database

if TYPE_CHECKING:
    from starlette.requests import Request

    from byom.engine.runner import JobRunner

__all__ = ["LOCAL_PROJECT", "EngineConfig", "EngineState", "engine_of"]

# The engine is one "project" in Together's sense (ref together-api-2026-11 §3.2): ids and the
# slug that prefixes model names (``local/<name>``).
LOCAL_PROJECT: dict[str, str] = {"id": "proj_local", "slug": "local", "name": "Local engine"}


class EngineConfig(BaseModel):
    """Engine-only knobs (not environment variables: the CLI passes them)."""

    model_config = ConfigDict(frozen=True)

    max_upload_bytes: int = 2 * 1024**3
    # Local model directories a job may train from (``from_hf_model`` given as a path).
    allowed_roots: tuple[Path, ...] = ()
    device: str = "auto"  # "auto": cuda if torch sees one, else cpu
    cancel_grace_s: float = Field(default=5.0, ge=0)
    poll_interval_s: float = Field(default=0.5, gt=0)


@dataclass
class EngineState:
    db: Database
    data_dir: Path
    api_key: str = field(repr=False)
    base_url: str
    settings: Settings
    config: EngineConfig = field(default_factory=EngineConfig)
    project: dict[str, str] = field(default_factory=lambda: dict(LOCAL_PROJECT))
    runner: JobRunner | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # for other engine modules (deploy/serving)

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        api_key: str,
        base_url: str,
        settings: Settings,
        config: EngineConfig | None = None,
        with_runner: bool = True,
    ) -> EngineState:
        """Open (or create) the engine's state under ``data_dir``: SQLite, blobs, jobs and a runner."""
        # Importing the modules that own tables registers their migrations before the DB opens.
        import byom.engine.store  # noqa: F401

        _import_optional_tables()
        data_dir = data_dir.expanduser().resolve()
        # Training data and weights are private: a new data dir is the user's alone.
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(mode=0o700, exist_ok=True)
        for sub in ("blobs", "jobs", "uploads"):
            (data_dir / sub).mkdir(exist_ok=True)
        cfg = config or EngineConfig()
        if not cfg.allowed_roots:
            cfg = cfg.model_copy(update={"allowed_roots": (Path.home(), data_dir)})
        state = cls(
            db=Database(data_dir / "engine.db"),
            data_dir=data_dir,
            api_key=api_key,
            base_url=base_url.rstrip("/"),
            settings=settings,
            config=cfg,
        )
        if with_runner:
            from byom.engine.runner import JobRunner

            state.runner = JobRunner(state)
        return state

    def close(self) -> None:
        self.db.close()


def _import_optional_tables() -> None:
    # The deploy side's registry owns m010+ tables; import it when present so they exist too.
    try:
        import byom.engine.registry  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "byom.engine.registry":
            raise


def engine_of(request: Request) -> EngineState:
    """The ``EngineState`` of the app serving ``request``."""
    state: EngineState = request.app.state.engine
    return state
