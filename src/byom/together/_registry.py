"""The ``/v2`` model registry (models, revisions, files), serving configs and instance types."""

from __future__ import annotations

from typing import Any

from pydantic import (
    Field,
)

from byom.together._shapes import Timestamp, _Camel, _ListPage

__all__ = [
    "InstanceType",
    "InstanceTypeList",
    "ModelFile",
    "ModelFileList",
    "ModelRevision",
    "ModelRevisionList",
    "RegistryModel",
    "RegistryModelList",
    "ServingConfig",
    "ServingConfigList",
]


class DtypeCount(_Camel):
    dtype: str | None = None
    count: str | int | None = None  # an int64 as a string


class WeightParameters(_Camel):
    total: str | int | None = None  # an int64 as a string
    by_dtype: list[DtypeCount] | None = None


class ModelWeights(_Camel):
    type: str | None = None  # WEIGHTS_TYPE_DEFAULT | WEIGHTS_TYPE_ADAPTER | WEIGHTS_TYPE_SPECULATOR
    architecture: str | None = None
    context_length: str | int | None = None
    parameters: WeightParameters | None = None
    speculator_mechanism: str | None = None
    draft_speculator_type: str | None = None

    @property
    def is_adapter(self) -> bool:
        return self.type == "WEIGHTS_TYPE_ADAPTER"


class RegistryModel(_Camel):
    """A project registry model: ``GET /v2/projects/{pid}/models/{id}`` and list entries (ref §3.8)."""

    id: str
    name: str | None = None  # <project_slug>/<model_name>
    organization_id: str | None = None
    project_id: str | None = None
    visibility: str | None = None
    weights: ModelWeights | None = None
    description: str | None = None
    base_model: str | None = None  # projects/{p}/models/{id}
    base_model_id: str | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None

    def resource_name(self, revision_id: str | None = None) -> str:
        """The deploy ``model`` string: ``projects/{p}/models/{id}[/revisions/{rv}]`` (ref §3.12)."""
        name = f"projects/{self.project_id}/models/{self.id}"
        return f"{name}/revisions/{revision_id}" if revision_id else name


class RegistryModelList(_ListPage):
    """``GET /v2/projects/{pid}/models``: ``{data, next_cursor}``."""

    data: list[RegistryModel] = Field(default_factory=list)


class RevisionValidationError(_Camel):
    message: str | None = None
    rule: str | None = None
    severity: str | None = None


class ModelRevision(_Camel):
    """One entry of ``GET /v2/projects/{pid}/models/{id}/revisions`` (ref §3.8)."""

    id: str | None = None
    revision_id: str | None = None
    created_at: Timestamp = None
    validation_status: str | None = None
    validation_errors: list[RevisionValidationError] | None = None
    last_validated_at: Timestamp = None

    @property
    def rid(self) -> str | None:
        """The revision id (``revisionId``, else ``id``)."""
        return self.revision_id or self.id


class ModelRevisionList(_ListPage):
    """``GET /v2/projects/{pid}/models/{id}/revisions``: ``{data, next_cursor}``."""

    data: list[ModelRevision] = Field(default_factory=list)


class ModelFile(_Camel):
    path: str | None = None
    hash: str | None = None
    size_bytes: str | int | None = None  # an int64 as a string


class ModelFileList(_ListPage):
    """``GET /v2/projects/{pid}/models/{id}/files[?revisionId=]`` (ref §3.8)."""

    data: list[ModelFile] = Field(default_factory=list)
    revision_id: str | None = Field(default=None, alias="revisionId")
    revision_created_at: Timestamp = Field(default=None, alias="revisionCreatedAt")
    total_size_bytes: str | int | None = Field(default=None, alias="totalSizeBytes")


class ConfigSelector(_Camel):
    key: str | None = None
    value: str | None = None


class ConfigCertification(_Camel):
    certification_type: str | None = None
    certified_at: Timestamp = None
    certified_by: str | None = None
    model: str | None = None
    model_revision_id: str | None = None
    target: str | None = None
    draft_model: str | None = None
    draft_model_revision_id: str | None = None
    notes: str | None = None


class ServingConfig(_Camel):
    """A serving config (``cr_…``): ``GET /v2/projects/{pid}/configs[/{id}]`` (ref §3.6). It fixes the hardware."""

    id: str
    project_id: str | None = None
    reference_model: str | None = None
    reference_model_id: str | None = None
    selectors: list[ConfigSelector] = Field(default_factory=list)
    certifications: list[ConfigCertification] | None = None
    draft_model: str | None = None
    description: str | None = None

    def selector(self, key: str) -> str | None:
        return next((s.value for s in self.selectors if s.key == key), None)

    @property
    def instance_type(self) -> str | None:
        """``{accelerator_count}x{accelerator_type}``, the instance type name (the CLI's rule, ref §3.6)."""
        kind = self.selector("accelerator_type")
        return f"{self.selector('accelerator_count') or 1}x{kind}" if kind else None

    @property
    def resource_name(self) -> str:
        """The deploy ``config`` string: ``projects/{p}/configs/{id}``."""
        return f"projects/{self.project_id}/configs/{self.id}"


class ServingConfigList(_ListPage):
    """``GET /v2/projects/{pid}/configs?referenceModel=``: ``{data, next_cursor}``."""

    data: list[ServingConfig] = Field(default_factory=list)


class Headroom(_Camel):
    relation: str | None = None
    value: int | None = None


class InstanceRegion(_Camel):
    name: str | None = None
    headroom: Headroom | None = None
    compliance: list[dict[str, Any]] | None = None


class InstanceType(_Camel):
    """Hardware: ``GET /v2/public/inference-instance-types[/{id}]`` entries (ref §3.7)."""

    id: str
    name: str | None = None  # e.g. 1xnvidia-h100-80gb
    description: str | None = None
    gpu_count: int | None = None
    gpu_memory_gib: float | None = None
    gpu_type: str | None = None
    price_cents_per_hour: float | None = None  # per running replica
    regions: list[InstanceRegion] | None = None

    @property
    def usd_per_hour(self) -> float | None:
        return None if self.price_cents_per_hour is None else self.price_cents_per_hour / 100


class InstanceTypeList(_ListPage):
    """``GET /v2/public/inference-instance-types``: the whole catalogue, ``next_cursor: null``."""

    data: list[InstanceType] = Field(default_factory=list)
