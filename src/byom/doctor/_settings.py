"""The settings as byom reads them: the backend they choose, the credentials set, the data dirs."""

from __future__ import annotations

from byom.backend import BackendInfo
from byom.config import Settings, engine_data_dir
from byom.doctor._check import Check

__all__ = ["check_backend", "check_data_dirs", "credentials"]


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


def check_data_dirs(settings: Settings) -> list[Check]:
    """byom's data dir and the engine's, by the one rule the engine itself applies (``data_dir_problem``)."""
    from byom.engine.private import data_dir_problem

    checks = []
    for label, path, engine in (
        ("data dir", settings.data_dir, False),
        ("engine data dir", engine_data_dir(settings), True),
    ):
        problem = data_dir_problem(path, engine=engine)
        if problem is None:
            detail = str(path) if path.exists() else f"{path} (created on first use)"
            checks.append(Check(name=label, status="ok", detail=detail))
        else:
            checks.append(Check(name=label, status="problem", detail=problem.detail, fix=problem.fix))
    return checks
