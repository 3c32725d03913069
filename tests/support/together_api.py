"""Together API response bodies for tests that answer with a mock transport (shapes per SDK 3.1.1)."""

from __future__ import annotations


def supported_model(
    name: str, *, context: str | None = "4096", architecture: str | None = None
) -> dict[str, object]:
    """One entry of ``GET /v2/supported-models`` (``contextLength`` is a string there, or absent)."""
    entry: dict[str, object] = {
        "id": name,
        "name": name,
        "baseModel": "",
        "baseModelId": name,
        "capabilities": ["CAPABILITY_CHAT"],
        "createdAt": "2026-11-01T00:00:00Z",
        "updatedAt": "2026-11-01T00:00:00Z",
        "deploymentProfiles": [],
        "displayName": name,
        "displayType": "chat",
        "inputModalities": ["MODALITY_TEXT"],
        "outputModalities": ["MODALITY_TEXT"],
        "products": ["PRODUCT_FINE_TUNING"],
        "publisher": "x",
        "status": "SUPPORTED_MODEL_STATUS_SUPPORTED",
    }
    if context:
        entry["contextLength"] = context
    if architecture:
        entry["architecture"] = architecture
    return entry
