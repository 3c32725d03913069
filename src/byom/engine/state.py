"""What every endpoint of the engine reads: ``request.app.state.engine`` is an ``EngineState``.

``EngineState.open`` builds the engine's parts in one place and hands each what it needs: the
database, the job runner (``finetunes/runner.py``), the deploy runtime (``deploy/runtime.py``) and the
evaluation runner (``evals/runner.py``). The app's lifespan starts and stops the three background parts;
nothing is created on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from byom.config import Settings
from byom.engine.blobs import UPLOAD_TMP_PREFIX
from byom.engine.db import Database
from byom.engine.deploy.batching import DEFAULT_MAX_BATCH, DEFAULT_WINDOW_S, Batching
from byom.engine.deploy.runtime import DeployRuntime
from byom.engine.evals.runner import EvalRunner
from byom.engine.finetunes.runner import JobRunner
from byom.engine.private import check_data_dir, make_private
from byom.storage import private_dir

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["LOCAL_PROJECT", "EngineConfig", "EngineState", "clear_stale_uploads", "engine_of"]

# The engine is one "project" in Together's sense (ref together-api-2026-11 §3.2): ids and the
# slug that prefixes model names (``local/<name>``).
LOCAL_PROJECT: dict[str, str] = {"id": "proj_local", "slug": "local", "name": "Local engine"}


class EngineConfig(BaseModel):
    """Engine-only knobs (not environment variables: the CLI passes them)."""

    model_config = ConfigDict(frozen=True)

    max_upload_bytes: int = 2 * 1024**3
    # Local model directories a job may train from (``from_hf_model`` given as a path).
    allowed_roots: tuple[Path, ...] = ()
    device: str = "auto"  # "auto": the best accelerator torch sees (mps, cuda), else cpu
    cancel_grace_s: float = Field(default=5.0, ge=0)
    poll_interval_s: float = Field(default=0.5, gt=0)
    # How often idle deployments are checked against their inactiveTimeout; 0 turns the clock off.
    autostop_interval_s: float = Field(default=30.0, ge=0)
    # Concurrent generations of one served model run as one batch of up to this many (1: one at a time), gathered
    # for up to batch_window_s once the model is free (engine/deploy/batching.py).
    max_batch_size: int = Field(default=DEFAULT_MAX_BATCH, ge=1)
    batch_window_s: float = Field(default=DEFAULT_WINDOW_S, ge=0)


@dataclass
class EngineState:
    db: Database
    data_dir: Path
    api_key: str = field(repr=False)
    base_url: str
    settings: Settings
    config: EngineConfig
    runner: JobRunner
    deploy: DeployRuntime
    evals: EvalRunner
    project: dict[str, str] = field(default_factory=lambda: dict(LOCAL_PROJECT))

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        api_key: str,
        base_url: str,
        settings: Settings,
        config: EngineConfig | None = None,
    ) -> EngineState:
        """Open (or create) the engine's state under ``data_dir``: SQLite, blobs, jobs, runner, deploy runtime."""
        data_dir = data_dir.expanduser().resolve()
        # Training data and weights are private: the data dir and the engine's files in it are the user's alone.
        check_data_dir(data_dir)
        private_dir(data_dir)
        for sub in ("blobs", "jobs", "uploads"):
            private_dir(data_dir / sub)
        make_private(data_dir)  # a data dir from an older version had 0755 dirs and 0644 files
        clear_stale_uploads(data_dir)
        cfg = config or EngineConfig()
        if not cfg.allowed_roots:
            cfg = cfg.model_copy(update={"allowed_roots": (Path.home(), data_dir)})
        db = Database(data_dir / "engine.db")
        project = dict(LOCAL_PROJECT)
        deploy = DeployRuntime(
            db,
            project,
            reap_interval_s=cfg.autostop_interval_s,
            device=cfg.device,
            allowed_roots=cfg.allowed_roots,
            batching=Batching(cfg.max_batch_size, cfg.batch_window_s),
        )
        return cls(
            db=db,
            data_dir=data_dir,
            api_key=api_key,
            base_url=base_url.rstrip("/"),
            settings=settings,
            config=cfg,
            runner=JobRunner(db, cfg, project, data_dir),
            deploy=deploy,
            evals=EvalRunner(
                db,
                data_dir,
                deploy,
                max_result_bytes=cfg.max_upload_bytes,
                poll_interval_s=cfg.poll_interval_s,
            ),
            project=project,
        )

    def close(self) -> None:
        self.db.close()


def clear_stale_uploads(data_dir: Path) -> None:
    """Delete the temp files of uploads cut short (engine killed mid-upload): nothing is writing them now."""
    for stale in (data_dir / "uploads").glob(f"{UPLOAD_TMP_PREFIX}*"):
        stale.unlink(missing_ok=True)


def engine_of(request: Request) -> EngineState:
    """The ``EngineState`` of the app serving ``request``."""
    state: EngineState = request.app.state.engine
    return state
