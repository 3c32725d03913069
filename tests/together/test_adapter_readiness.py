"""Adapter readiness is one rule (issue #15): the model's ``state``, which the attach wait reads too."""

from __future__ import annotations

import pytest

from byom.together import DeploymentAdapter

READY, PENDING, FAILED = "ADAPTER_LOAD_STATE_READY", "ADAPTER_LOAD_STATE_PENDING", "ADAPTER_LOAD_STATE_FAILED"


@pytest.mark.parametrize(
    ("clusters", "state"),
    [
        ([READY, READY], READY),
        ([READY, PENDING], PENDING),  # one cluster ready is not a ready adapter
        ([PENDING, FAILED, READY], FAILED),
        ([], None),
    ],
)
def test_an_adapter_is_ready_only_when_every_cluster_is(clusters: list[str], state: str | None) -> None:
    adapter = DeploymentAdapter.model_validate(
        {"id": "dad_1", "perCluster": [{"clusterId": f"c{i}", "state": s} for i, s in enumerate(clusters)]}
    )
    assert adapter.state == state
