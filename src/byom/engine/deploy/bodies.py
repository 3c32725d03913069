"""The v2 wire bodies the deploy routes answer with, declared once.

Fields are snake_case in Python and camelCase on the wire (``alias_generator=to_camel``), answered through
``http.answer``/``http.wire``. ``extra="forbid"``: a key the engine sends is a key declared here, and the
client's lenient models (``byom.together``) declare the same ones (``tests/together/test_engine_answers_parse.py``).
A field made with ``omitted()`` is left out of the answer when it is None, as Together leaves unset fields out;
every other field is always sent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from byom.engine.http import omitted

__all__ = [
    "AdapterClusterStateBody",
    "Autoscaling",
    "ConfigBody",
    "ConfigSelector",
    "DeploymentAdapterBody",
    "DeploymentBody",
    "DeploymentStatus",
    "DeploymentSummary",
    "DtypeCount",
    "EndpointBody",
    "EndpointEventBody",
    "Headroom",
    "InstanceRegion",
    "InstanceTypeBody",
    "InstanceTypeList",
    "ModelFileBody",
    "ModelFilesBody",
    "RegistryModelBody",
    "RevisionBody",
    "RuntimeInfo",
    "ScalingMetric",
    "ScalingPolicy",
    "ScalingRules",
    "TrafficEntry",
    "WeightParameters",
    "Weights",
    "WireBody",
]


class WireBody(BaseModel):
    """Base of a v2 body: camelCase on the wire, snake_case accepted too, nothing undeclared."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", allow_inf_nan=False
    )


# --- autoscaling and traffic (requests send them too, and they are stored as sent) ------------------


class ScalingPolicy(WireBody):
    period_seconds: int | None = omitted()
    type: str | None = omitted()
    value: int | None = omitted()


class ScalingRules(WireBody):
    policies: list[ScalingPolicy] | None = omitted()
    select_policy: str | None = omitted()


class ScalingMetric(WireBody):
    name: str | None = omitted()
    type: str | None = omitted()
    target: float | None = omitted()
    percentile: str | None = omitted()


class Autoscaling(WireBody):
    """``autoscaling`` of a deployment, in a request and in the answer; 0/0 replicas means stopped (ref §3.5).

    Only the keys that were sent (or defaulted at create) are stored and answered.
    """

    min_replicas: int | None = omitted(ge=0, le=64)
    max_replicas: int | None = omitted(ge=0, le=64)
    scale_up_window: str | None = omitted()  # protobuf Duration JSON, e.g. "300s"
    scale_down_window: str | None = omitted()
    scale_to_zero_window: str | None = omitted()
    scale_up: ScalingRules | None = omitted()
    scale_down: ScalingRules | None = omitted()
    scaling_metrics: list[ScalingMetric] | None = omitted()


class TrafficEntry(WireBody):
    """One ``trafficSplit`` entry, in a PATCH and in the answer (ref §3.10)."""

    deployment_id: str
    weight: float = Field(ge=0)


# --- deployments -----------------------------------------------------------------------------------


class DeploymentStatus(WireBody):
    state: str
    message: str
    ready_replicas: int
    scheduled_replicas: int


class RuntimeInfo(WireBody):
    engine_type: str
    engine_version: str
    function_calling_supported: bool
    structured_output_supported: bool


class DeploymentBody(WireBody):
    """A deployment (``dep_…``): ``POST/GET/PATCH …/endpoints/{ep}/deployments[/{id}]`` (ref §3.5)."""

    id: str
    name: str  # <slug>/<endpoint>/<deployment>
    endpoint_id: str
    project_id: str
    model: str  # projects/{p}/models/{ml}/revisions/{rv}
    model_id: str
    model_revision_id: str
    config: str  # projects/{p}/configs/{cr}
    config_id: str
    hardware: str
    autoscaling: Autoscaling
    status: DeploymentStatus
    desired_replicas: int
    estimated_effective_traffic_share: float
    traffic_mode: Literal["TRAFFIC_MODE_LIVE"] = "TRAFFIC_MODE_LIVE"
    inactive_timeout: int
    etag: str
    created_at: str
    updated_at: str
    runtime_info: RuntimeInfo
    max_concurrent_requests_per_replica: str | None = omitted()  # an int64 as a string
    placement: dict[str, Any] | None = omitted()


class DeploymentSummary(WireBody):
    """One ``deployments[]`` entry of an endpoint (``EndpointDeploymentSummary``, ref §3.4)."""

    id: str
    autoscaling: Autoscaling
    created_at: str
    estimated_effective_traffic_share: float
    model: str
    model_id: str
    name: str
    traffic_mode: str
    desired_replicas: int
    hardware: str
    state: str
    ready_replicas: int

    @classmethod
    def of(cls, full: DeploymentBody) -> DeploymentSummary:
        return cls(
            id=full.id,
            autoscaling=full.autoscaling,
            created_at=full.created_at,
            estimated_effective_traffic_share=full.estimated_effective_traffic_share,
            model=full.model,
            model_id=full.model_id,
            name=full.name,
            traffic_mode=full.traffic_mode,
            desired_replicas=full.desired_replicas,
            hardware=full.hardware,
            state=full.status.state,
            ready_replicas=full.status.ready_replicas,
        )


# --- adapters attached to a deployment (LoRA attach mode) -------------------------------------------


class AdapterClusterStateBody(WireBody):
    """One ``perCluster[]`` entry of an attachment: this machine is the one cluster, a deployment one pod."""

    adapter_model_id: str
    cluster_id: str
    state: str  # ADAPTER_LOAD_STATE_*
    ready_pod_count: int
    failed_pod_count: int
    total_pod_count: int
    adapter_model: str  # projects/{p}/models/{ml}
    message: str | None = omitted()
    reason: str | None = omitted()
    loaded_at: str | None = omitted()
    realized_revision_id: str | None = omitted()  # only while loaded
    realized_revision: str | None = omitted()
    updated_at: str


class DeploymentAdapterBody(WireBody):
    """An attachment (``dad_…``): ``POST/GET/PATCH …/deployments/{dep}/adapters[/{id}]`` (ref §3.9)."""

    id: str
    adapter_model_id: str
    desired_revision_id: str
    etag: str
    adapter_model: str  # projects/{p}/models/{ml}
    desired_revision: str  # projects/{p}/models/{ml}/revisions/{rv}
    per_cluster: list[AdapterClusterStateBody]


# --- endpoints -------------------------------------------------------------------------------------


class EndpointBody(WireBody):
    """An endpoint (``ep_…``): ``POST/GET/PATCH /v2/projects/{pid}/endpoints[/{id}]`` (ref §3.4)."""

    id: str
    name: str  # <slug>/<endpoint>: the inference ``model`` string
    project_id: str
    endpoint_type: Literal["ENDPOINT_TYPE_DEDICATED"] = "ENDPOINT_TYPE_DEDICATED"
    visibility: str
    traffic_split: list[TrafficEntry]
    deployments: list[DeploymentSummary]
    etag: str
    created_at: str
    updated_at: str


class EndpointEventBody(WireBody):
    """One entry of ``GET …/endpoints/{ep}/events``; deployment keys only on a deployment's event."""

    id: str
    created_at: str
    endpoint_id: str
    level: str
    source: str
    source_kind: Literal["SOURCE_KIND_DEPLOYMENT", "SOURCE_KIND_ENDPOINT"]
    type: str
    message: str
    deployment_id: str | None = omitted()
    subject_id: str | None = omitted()
    reason: str | None = omitted()


# --- model registry --------------------------------------------------------------------------------


class DtypeCount(WireBody):
    dtype: str
    count: str  # an int64 as a string


class WeightParameters(WireBody):
    total: str  # an int64 as a string
    by_dtype: list[DtypeCount]


class Weights(WireBody):
    type: Literal["WEIGHTS_TYPE_ADAPTER", "WEIGHTS_TYPE_DEFAULT"]
    architecture: str | None = omitted()
    context_length: str | None = omitted()  # an int64 as a string
    parameters: WeightParameters | None = omitted()


class RegistryModelBody(WireBody):
    """A registry model: ``GET /v2/projects/{pid}/models[/{id}]`` (ref §3.8); base keys only on an adapter's."""

    id: str
    name: str  # <slug>/<model name>
    organization_id: str
    project_id: str
    visibility: str
    weights: Weights
    description: str
    created_at: str
    updated_at: str
    base_model_id: str | None = omitted()
    base_model: str | None = omitted()  # projects/{p}/models/{id}


class RevisionBody(WireBody):
    """One entry of ``GET …/models/{id}/revisions``: every stored revision validated at creation."""

    id: str
    revision_id: str
    created_at: str
    validation_status: Literal["REVISION_VALIDATION_STATUS_SUCCESS"] = "REVISION_VALIDATION_STATUS_SUCCESS"
    last_validated_at: str


class ModelFileBody(WireBody):
    path: str
    size_bytes: str  # an int64 as a string


class ModelFilesBody(WireBody):
    """``GET …/models/{id}/files[?revisionId=]``: one page of every file (ref §3.8); ``next_cursor`` is snake."""

    object: Literal["list"] = "list"
    data: list[ModelFileBody]
    next_cursor: None = Field(default=None, alias="next_cursor")
    revision_id: str
    revision_created_at: str
    total_size_bytes: str  # an int64 as a string


# --- configs and instance types --------------------------------------------------------------------


class ConfigSelector(WireBody):
    key: str
    value: str


class ConfigBody(WireBody):
    """A serving config (``cr_…``): ``GET /v2/projects/{pid}/configs[/{id}]`` (ref §3.6)."""

    id: str
    project_id: str
    reference_model: str  # "" without a referenceModel
    reference_model_id: str
    selectors: list[ConfigSelector]
    certifications: list[dict[str, str]] = Field(default_factory=list)  # the engine certifies nothing
    description: str


class Headroom(WireBody):
    relation: str
    value: int


class InstanceRegion(WireBody):
    name: str
    headroom: Headroom


class InstanceTypeBody(WireBody):
    """Hardware: one ``GET /v2/public/inference-instance-types[/{id}]`` entry (ref §3.7), free on this machine."""

    id: str
    name: str  # e.g. 1xcpu
    description: str
    gpu_count: int
    gpu_memory_gib: int
    gpu_type: str
    price_cents_per_hour: int = 0
    regions: list[InstanceRegion]


class InstanceTypeList(WireBody):
    """``GET /v2/public/inference-instance-types``: the whole catalogue in one page."""

    object: Literal["list"] = "list"
    data: list[InstanceTypeBody]
    next_cursor: None = Field(default=None, alias="next_cursor")
