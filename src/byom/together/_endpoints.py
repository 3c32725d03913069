"""``/v2`` dedicated endpoints, their deployments, events and attached adapters."""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
)

from byom.together._shapes import Timestamp, _Camel, _ListPage

__all__ = [
    "AdapterClusterState",
    "Autoscaling",
    "Deployment",
    "DeploymentAdapter",
    "DeploymentAdapterList",
    "DeploymentList",
    "DeploymentStatus",
    "Endpoint",
    "EndpointDeploymentSummary",
    "EndpointEvent",
    "EndpointEventList",
    "EndpointList",
    "TrafficSplitEntry",
]


class ScalingPolicy(_Camel):
    period_seconds: int | None = None
    type: str | None = None
    value: int | None = None


class ScalingBehavior(_Camel):
    policies: list[ScalingPolicy] | None = None
    select_policy: str | None = None


class ScalingMetric(_Camel):
    name: str | None = None
    type: str | None = None
    target: float | None = None
    percentile: str | None = None


class Autoscaling(_Camel):
    """``autoscaling`` of a deployment; 0/0 replicas means stopped (ref §3.5)."""

    min_replicas: int | None = None
    max_replicas: int | None = None
    scale_up_window: str | None = None  # protobuf Duration JSON, e.g. "300s"
    scale_down_window: str | None = None
    scale_to_zero_window: str | None = None
    scale_up: ScalingBehavior | None = None
    scale_down: ScalingBehavior | None = None
    scaling_metrics: list[ScalingMetric] | None = None


class TrafficSplitEntry(_Camel):
    deployment_id: str
    weight: float = 0.0


class EndpointDeploymentSummary(_Camel):
    """One ``deployments[]`` entry of an endpoint (``EndpointDeploymentSummary``, ref §3.4)."""

    id: str
    name: str | None = None
    model: str | None = None
    model_id: str | None = None
    state: str | None = None
    ready_replicas: int | None = None
    desired_replicas: int | None = None
    hardware: str | None = None
    autoscaling: Autoscaling | None = None
    estimated_effective_traffic_share: float | None = None
    traffic_mode: str | None = None
    created_at: Timestamp = None


class Endpoint(_Camel):
    """An endpoint (``ep_…``): ``POST/GET/PATCH /v2/projects/{pid}/endpoints[/{id}]`` (ref §3.4).

    ``name`` (``<project_slug>/<endpoint_name>``) is the inference ``model`` string.
    """

    id: str
    name: str | None = None
    project_id: str | None = None
    endpoint_type: str | None = None
    visibility: str | None = None
    traffic_split: list[TrafficSplitEntry] = Field(default_factory=list)
    deployments: list[EndpointDeploymentSummary] = Field(default_factory=list)
    etag: str | None = None
    active_rollout_id: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class EndpointList(_ListPage):
    """``GET /v2/projects/{pid}/endpoints``: ``{data, next_cursor}``."""

    data: list[Endpoint] = Field(default_factory=list)


class RegionStatus(_Camel):
    region: str | None = None
    ready_replicas: int | None = None
    scheduled_replicas: int | None = None


class DeploymentStatusDetails(_Camel):
    region: list[RegionStatus] | None = None


class DeploymentStatus(_Camel):
    """``status`` of a deployment: ``DEPLOYMENT_STATE_*`` and a message (ref §3.5)."""

    state: str | None = None
    message: str | None = None
    ready_replicas: int | None = None
    scheduled_replicas: int | None = None
    details: DeploymentStatusDetails | None = None

    @property
    def is_ready(self) -> bool:
        return self.state == "DEPLOYMENT_STATE_READY"

    @property
    def is_failed(self) -> bool:
        return self.state == "DEPLOYMENT_STATE_FAILED"


class RuntimeInfo(_Camel):
    engine_type: str | None = None
    engine_version: str | None = None
    function_calling_supported: bool | None = None
    structured_output_supported: bool | None = None


class Deployment(_Camel):
    """A deployment (``dep_…``): ``POST/GET/PATCH …/endpoints/{ep}/deployments[/{id}]`` (ref §3.5)."""

    id: str
    name: str | None = None  # <slug>/<endpoint>/<deployment>: a pinned inference model string
    endpoint_id: str | None = None
    project_id: str | None = None
    model: str | None = None  # projects/{p}/models/{ml}/revisions/{rv}
    model_id: str | None = None
    model_revision_id: str | None = None
    config: str | None = None
    config_id: str | None = None
    hardware: str | None = None
    autoscaling: Autoscaling | None = None
    status: DeploymentStatus | None = None
    desired_replicas: int | None = None
    estimated_effective_traffic_share: float | None = None
    traffic_mode: str | None = None
    inactive_timeout: int | None = None  # minutes; 0 or absent = never auto-stop
    max_concurrent_requests_per_replica: str | int | None = None  # an int64 as a string
    placement: dict[str, Any] | None = None
    runtime_info: RuntimeInfo | None = None
    speculator: str | None = None
    speculator_id: str | None = None
    speculator_revision_id: str | None = None
    etag: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None

    @property
    def state(self) -> str | None:
        return self.status.state if self.status else None


class DeploymentList(_ListPage):
    """``GET /v2/projects/{pid}/endpoints/{ep}/deployments``: ``{data, next_cursor}``."""

    data: list[Deployment] = Field(default_factory=list)


class EndpointEvent(_Camel):
    """One entry of ``GET /v2/projects/{pid}/endpoints/{ep}/events``, newest first (ref §3.5)."""

    id: str | None = None
    created_at: Timestamp = None
    endpoint_id: str | None = None
    deployment_id: str | None = None
    subject_id: str | None = None
    level: str | None = None  # LEVEL_DEBUG | LEVEL_INFO | LEVEL_WARN | LEVEL_ERROR
    source: str | None = None
    source_kind: str | None = None
    type: str | None = None  # e.g. deployment.created, condition.set, pod.log
    message: str | None = None
    reason: str | None = None
    status: str | dict[str, Any] | None = None
    log_excerpt: str | None = None  # crash or OOM diagnostics
    cluster_id: str | None = None
    container_name: str | None = None
    node_id: str | None = None
    replica_id: str | None = None
    service_type: str | None = None
    old_replicas: int | None = None
    new_replicas: int | None = None
    paths: list[str] | None = None
    name: str | None = None
    version: str | None = None


class EndpointEventList(_ListPage):
    """``GET /v2/projects/{pid}/endpoints/{ep}/events``: ``{data, next_cursor}``."""

    data: list[EndpointEvent] = Field(default_factory=list)


class AdapterClusterState(_Camel):
    """One ``perCluster[]`` entry of an attached adapter: its load state on one cluster (ref §3.9)."""

    adapter_model_id: str | None = None
    cluster_id: str | None = None
    state: str | None = None  # ADAPTER_LOAD_STATE_PENDING | LOADING | READY | REMOVING | FAILED
    ready_pod_count: int | None = None
    failed_pod_count: int | None = None
    total_pod_count: int | None = None
    adapter_model: str | None = None  # projects/{p}/models/{ml}
    adapter_valid: bool | None = None
    adapter_valid_reason: str | None = None
    message: str | None = None
    reason: str | None = None
    loaded_at: Timestamp = None
    realized_revision_id: str | None = None
    realized_revision: str | None = None
    realized_etag: str | None = None
    updated_at: Timestamp = None


class DeploymentAdapter(_Camel):
    """A LoRA adapter attached to a deployment (``dad_…``): ``…/deployments/{dep}/adapters[/{id}]`` (ref §3.9).

    Update and delete need its ``etag``.
    """

    id: str
    adapter_model_id: str | None = None
    desired_revision_id: str | None = None
    etag: str | None = None
    adapter_model: str | None = None  # projects/{p}/models/{ml}
    desired_revision: str | None = None  # projects/{p}/models/{ml}/revisions/{rv}
    per_cluster: list[AdapterClusterState] = Field(default_factory=list)

    @property
    def state(self) -> str | None:
        """The load state: FAILED if any cluster failed, READY if all are, else the first cluster's."""
        states = [c.state for c in self.per_cluster if c.state]
        if not states:
            return None
        if "ADAPTER_LOAD_STATE_FAILED" in states:
            return "ADAPTER_LOAD_STATE_FAILED"
        if all(s == "ADAPTER_LOAD_STATE_READY" for s in states):
            return "ADAPTER_LOAD_STATE_READY"
        return next(s for s in states if s != "ADAPTER_LOAD_STATE_READY")


class DeploymentAdapterList(_ListPage):
    """``GET …/deployments/{dep}/adapters``: ``{data, next_cursor}``."""

    data: list[DeploymentAdapter] = Field(default_factory=list)
