"""Together API response bodies for tests that answer with a mock transport (shapes per SDK 3.1.1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
from pydantic import SecretStr

from byom.together import TogetherClient


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


class Recorder:
    """A ``MockTransport`` handler that keeps every request and the client's sleeps (retries, polls), so
    retries are checked without waiting. ``client()`` is a ``TogetherClient`` answered by ``handler``."""

    def __init__(self, handler: Callable[[httpx2.Request], httpx2.Response], key: str = "tk-canary") -> None:
        self.requests: list[httpx2.Request] = []
        self.sleeps: list[float] = []
        self.key = key
        self._handler = handler

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self._handler(request)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def client(self, **kwargs: Any) -> TogetherClient:
        return TogetherClient(
            api_key=SecretStr(self.key),
            base_url="https://api.together.test",
            transport=httpx2.MockTransport(self),
            sleep=self.sleep,
            **kwargs,
        )
