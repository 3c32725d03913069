"""plan_manage and manage as plain functions: what needs confirming, and each action's effect."""

from __future__ import annotations

import pytest

from byom.backend import Backend
from byom.confirmed import plan_hash
from byom.endpoints import DeployArgs, deploy, manage, plan_deploy, plan_manage
from byom.endpoints.manage import ManageArgs
from byom.errors import EndpointNotFound, PreflightError
from byom.ledger import Ledger

pytestmark = pytest.mark.anyio


async def _served(backend: Backend, ledger: Ledger, model_id: str, name: str) -> str:
    plan = await plan_deploy(DeployArgs(model=model_id, endpoint_name=name), backend=backend, ledger=ledger)
    return (await deploy(plan, backend=backend, ledger=ledger, wait_seconds=30)).endpoint_id


async def test_status_needs_no_confirmation_stop_and_delete_do(
    backend: Backend, ledger: Ledger, model_id: str
) -> None:
    ep_id = await _served(backend, ledger, model_id, "unit-manage")
    status = await plan_manage(backend, ManageArgs(endpoint="unit-manage"))
    assert status.endpoint_id == ep_id and not status.needs_confirmation
    stop = await plan_manage(backend, ManageArgs(endpoint=ep_id, action="stop"))
    assert stop.needs_confirmation and stop.summary.endswith("Stop it?")
    assert stop.plan_hash == plan_hash(stop.fingerprint, None) != status.plan_hash
    # The local engine costs nothing: starting it again is not a spend.
    assert not (await plan_manage(backend, ManageArgs(endpoint=ep_id, action="start"))).needs_confirmation

    stopped = await manage(backend, stop)
    assert stopped.done == "Stopped 1 deployment(s)."
    assert all(d.max_replicas == 0 for d in stopped.deployments)
    deleted = await manage(backend, await plan_manage(backend, ManageArgs(endpoint=ep_id, action="delete")))
    assert deleted.deployments == [] and "Deleted endpoint" in deleted.done
    with pytest.raises(EndpointNotFound, match="deploy_endpoint returned"):
        await plan_manage(backend, ManageArgs(endpoint=ep_id))


async def test_an_unknown_name_says_what_to_pass(backend: Backend) -> None:
    with pytest.raises(PreflightError, match="Pass the endpoint id"):
        await plan_manage(backend, ManageArgs(endpoint="no-such-endpoint"))
