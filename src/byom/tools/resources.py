"""Resources the host's application can read: the active backend, the base catalog, one job in full."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError

from byom.errors import ByomError
from byom.tools._common import AppState

__all__ = ["Running", "backend_resource", "catalog_resource", "job_resource"]


def _app(ctx: Context[Any, Any]) -> AppState:
    app = ctx.request_context.lifespan_context
    assert isinstance(app, AppState)
    return app


# Static resources get no Context (the SDK refuses one): their readers are given the running server's state.
Running = Callable[[], AppState]


def backend_resource(running: Running) -> Callable[[], str]:
    """The ``byom://backend`` reader."""

    def backend() -> str:
        """Which backend the job tools use, and which credentials are set (never their values)."""
        from byom.backend import describe_backend  # the readers import their workflow when read, not at start

        return describe_backend(running().settings).model_dump_json(indent=2)

    return backend


def catalog_resource(running: Running) -> Callable[[], Awaitable[str]]:
    """The ``byom://catalog/bases`` reader: the catalog the tools use (``AppState.catalog``), so Together's live
    list comes through the backend's own client, its transport and pool."""

    async def bases() -> str:
        """Together's fine-tunable base models (the BYOM templates) with their limits."""
        try:
            catalog = await running().catalog()
        except ByomError as exc:  # the backend cannot be reached (no key, no engine): say what to do
            raise ResourceError(str(exc)) from exc
        return catalog.model_dump_json(indent=2)

    return bases


async def job_resource(job_id: str, ctx: Context[Any, Any]) -> str:
    """One fine-tune job in full: every event, checkpoint and metric summary."""
    from byom.jobs.status import fetch_details, summarize

    app = _app(ctx)
    try:
        backend = await app.backend()
        client = backend.client
        job = await client.retrieve_finetune(job_id)
        events, checkpoints, metrics = await fetch_details(client, job_id)
        summary = summarize(job, events, checkpoints, metrics, n_events=1000, local=backend.kind == "local")
    except ByomError as exc:
        raise ResourceError(str(exc)) from exc
    return json.dumps(
        {"job": job.model_dump(mode="json", exclude_none=True), "summary": summary.model_dump(mode="json")},
        indent=2,
    )
