"""Undoing what a failed deploy created: nothing this call made is left running or billing."""

from __future__ import annotations

import logging

from byom.backend import Backend, Project
from byom.errors import TogetherAPIError
from byom.together import Deployment, DeploymentAdapter, Endpoint

__all__ = ["detach", "remove_created"]

log = logging.getLogger(__name__)


async def remove_created(
    backend: Backend,
    project: Project,
    endpoint: Endpoint | None,
    dep: Deployment | None,
    *,
    endpoint_reused: bool,
) -> bool:
    """Undo this call's creations, newest first; whether it finished. A failure here is logged, never hides
    the original error."""
    client = backend.client
    try:
        if dep is not None:
            ep_id = dep.endpoint_id or (endpoint.id if endpoint else None)
            if ep_id:
                current = await client.retrieve_endpoint(project.id, ep_id)
                rest = [e for e in current.traffic_split if e.deployment_id != dep.id]
                if len(rest) != len(current.traffic_split):
                    await client.set_traffic_split(project.id, ep_id, rest, etag=current.etag)
                await client.delete_deployment(project.id, ep_id, dep.id)
        if endpoint is not None and not endpoint_reused:
            await client.delete_endpoint(project.id, endpoint.id)
    except (TogetherAPIError, OSError) as exc:
        log.warning("rollback after a failed deploy did not finish: %s", exc)
        return False
    return True


async def detach(
    backend: Backend, project: Project, ep_id: str, dep_id: str, adapter: DeploymentAdapter
) -> None:
    """Take an adapter this call attached off its deployment again; a failure is logged, never hides the original
    error."""
    try:
        await backend.client.detach_adapter(project.id, ep_id, dep_id, adapter.id, etag=adapter.etag or "")
    except TogetherAPIError as exc:
        log.warning("rollback of a failed attach did not finish: %s", exc)
