"""The async client for Together's REST API, and for the local engine that speaks it.

``base_url`` is the server root (``https://api.together.ai`` or ``http://127.0.0.1:8377``): every
path carries its own ``/v1``, ``/v2`` or ``/v3`` prefix, as in SDK 3.1.1 (ref 2026-11 §0.1).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from byom.config import Settings, engine_data_dir, read_engine_key
from byom.errors import TogetherAPIError, describe_validation_error
from byom.together._models import (
    DeploymentAdapter,
    DeploymentAdapterList,
    FinetuneModelLimits,
    SupportedModel,
    SupportedModelPage,
)
from byom.together.errors import error_from_response, error_from_transport, retry_after_seconds

__all__ = ["DEFAULT_BASE_URL", "RETRY_STATUSES", "TogetherClient"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.together.ai"
# SDK 3.1.1 retries 408/409/429/≥500 (ref 2026-11 §5.5); 409 is left out because it reports a
# state conflict that a blind retry does not fix.
RETRY_STATUSES = frozenset({408, 429})
# Only methods that are safe to repeat are retried. Unlike the SDK, a POST create is never
# retried: with no idempotency key a retry can create a second job (together-api.md §14 #6).
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Honour a server's Retry-After only up to this long, as the SDK does (0 < value ≤ 60 s).
_MAX_RETRY_AFTER = 60.0
# Guard against a server that keeps handing back cursors.
_MAX_PAGES = 100

Sleep = Callable[[float], Awaitable[None]]
_M = TypeVar("_M", bound=BaseModel)


class TogetherClient:
    """Async access to Together's fine-tuning API; errors come out as ``TogetherAPIError``.

    >>> async with TogetherClient(api_key="…") as client:  # doctest: +SKIP
    ...     limits = await client.model_limits("togethercomputer/llama-2-7b-chat")
    """

    def __init__(
        self,
        *,
        api_key: SecretStr | str | None,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        connect_timeout: float = 5.0,
        max_retries: int = 2,
        backoff_initial: float = 1.0,
        backoff_max: float = 10.0,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) or api_key is None else SecretStr(api_key)
        self.base_url = base_url.rstrip("/")
        self.max_retries = max(0, max_retries)
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._sleep = sleep
        headers = {"Accept": "application/json", "User-Agent": "byom-mcp"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        self._http = httpx2.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            transport=transport,
            timeout=httpx2.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> Self:
        """A client for Together's cloud API with the configured key and base URL."""
        return cls(
            api_key=settings.together_api_key, base_url=settings.together_base_url, transport=transport
        )

    @classmethod
    def for_engine(cls, settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None) -> Self:
        """A client for the local engine: same REST API, its own URL, and its key from BYOM_ENGINE_API_KEY or
        the key file the engine wrote in its data dir on first start."""
        key: SecretStr | str | None = settings.engine_api_key or read_engine_key(engine_data_dir(settings))
        return cls(api_key=key, base_url=settings.engine_url, transport=transport)

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "none"
        return f"TogetherClient(base_url={self.base_url!r}, api_key={key})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- the one request path: retries and error translation happen here only --

    def _backoff(self, attempt: int, response: httpx2.Response | None) -> float:
        if response is not None:
            wait = retry_after_seconds(response)
            if wait is not None and 0 < wait <= _MAX_RETRY_AFTER:
                return wait
        # SDK 3.1.1: min(initial · 2^n, max) × (1 − 0.25·rand)  (ref 2026-11 §5.5).
        return min(self._backoff_initial * 2.0**attempt, self._backoff_max) * (1 - 0.25 * random.random())

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry: bool | None = None,
    ) -> httpx2.Response:
        """Send one request; retry when safe; raise ``TogetherAPIError`` for any non-2xx answer."""
        method = method.upper()
        may_retry = (method in _IDEMPOTENT) if retry is None else retry
        attempts = 1 + (self.max_retries if may_retry else 0)
        secret = self._api_key.get_secret_value() if self._api_key is not None else None
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = await self._http.request(method, path, params=params, json=json)
            except httpx2.TransportError as exc:
                if last:
                    raise error_from_transport(exc, self.base_url) from exc
                delay = self._backoff(attempt, None)
                logger.info("%s %s: %s; retrying in %.1f s", method, path, type(exc).__name__, delay)
                await self._sleep(delay)
                continue
            if response.is_success:
                return response
            retryable = response.status_code in RETRY_STATUSES or response.status_code >= 500
            if response.headers.get("x-should-retry") == "false":
                retryable = False
            if not retryable or last:
                await response.aread()
                raise error_from_response(response, secret=secret)
            delay = self._backoff(attempt, response)
            logger.info("%s %s → %s; retrying in %.1f s", method, path, response.status_code, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and decode its JSON body."""
        response = await self.request("GET", path, params=params)
        try:
            return response.json()
        except ValueError as exc:
            raise TogetherAPIError(
                f"GET {path} answered {response.status_code} with a body that is not JSON. "
                "Check that TOGETHER_BASE_URL points at Together's API root (no /v1) or at the local engine.",
                status_code=response.status_code,
            ) from exc

    # -- endpoints --

    async def supported_models(
        self, product: str | None = "PRODUCT_FINE_TUNING", *, limit: int | None = None
    ) -> list[SupportedModel]:
        """Every model in ``GET /v2/supported-models`` for ``product``, following ``next_cursor``."""
        params: dict[str, Any] = {}
        if product:
            params["product"] = product
        if limit:
            params["limit"] = limit
        models: list[SupportedModel] = []
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            body = await self.get_json("/v2/supported-models", params=params)
            page = _parse(SupportedModelPage, body, "/v2/supported-models")
            models.extend(page.data)
            cursor = page.next_cursor
            if not cursor or cursor in seen:
                break
            seen.add(cursor)
            params = {**params, "after": cursor}
        return models

    async def model_limits(self, model_name: str) -> FinetuneModelLimits:
        """``GET /v1/fine-tunes/models/limits?model_name=`` for one base model."""
        body = await self.get_json("/v1/fine-tunes/models/limits", params={"model_name": model_name})
        return _parse(FinetuneModelLimits, body, "/v1/fine-tunes/models/limits")

    # -- LoRA adapters attached to a deployment (ref 2026-11 §3.9) --

    @staticmethod
    def _adapters_path(project_id: str, endpoint_id: str, deployment_id: str) -> str:
        ids = (quote(x, safe="") for x in (project_id, endpoint_id, deployment_id))
        return "/v2/projects/{}/endpoints/{}/deployments/{}/adapters".format(*ids)

    async def attach_adapter(
        self,
        project_id: str,
        endpoint_id: str,
        deployment_id: str,
        adapter_model_id: str,
        *,
        adapter_revision_id: str | None = None,
    ) -> DeploymentAdapter:
        """``POST …/deployments/{dep}/adapters``: attach a LoRA adapter to a deployment of its base; poll it with
        ``retrieve_adapter`` until ``state`` is ``ADAPTER_LOAD_STATE_READY``."""
        path = self._adapters_path(project_id, endpoint_id, deployment_id)
        body: dict[str, Any] = {"adapterModelId": adapter_model_id}
        if adapter_revision_id:
            body["adapterRevisionId"] = adapter_revision_id
        response = await self.request("POST", path, json=body)
        try:
            answer = response.json()
        except ValueError as exc:
            raise TogetherAPIError(
                f"POST {path} answered {response.status_code} with a body that is not JSON.",
                status_code=response.status_code,
            ) from exc
        return _parse(DeploymentAdapter, answer, path)

    async def retrieve_adapter(
        self, project_id: str, endpoint_id: str, deployment_id: str, adapter_id: str
    ) -> DeploymentAdapter:
        """``GET …/deployments/{dep}/adapters/{dad}``."""
        path = f"{self._adapters_path(project_id, endpoint_id, deployment_id)}/{quote(adapter_id, safe='')}"
        return _parse(DeploymentAdapter, await self.get_json(path), path)

    async def list_adapters(
        self, project_id: str, endpoint_id: str, deployment_id: str
    ) -> list[DeploymentAdapter]:
        """Every adapter attached to a deployment (``GET …/adapters``, following ``next_cursor``)."""
        path = self._adapters_path(project_id, endpoint_id, deployment_id)
        adapters: list[DeploymentAdapter] = []
        params: dict[str, Any] = {}
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            page = _parse(DeploymentAdapterList, await self.get_json(path, params=params), path)
            adapters.extend(page.data)
            cursor = page.next_cursor
            if not cursor or cursor in seen:
                break
            seen.add(cursor)
            params = {"after": cursor}
        return adapters

    async def detach_adapter(
        self, project_id: str, endpoint_id: str, deployment_id: str, adapter_id: str, *, etag: str
    ) -> None:
        """``DELETE …/deployments/{dep}/adapters/{dad}?etag=``: the etag of your last read is required."""
        path = f"{self._adapters_path(project_id, endpoint_id, deployment_id)}/{quote(adapter_id, safe='')}"
        await self.request("DELETE", path, params={"etag": etag})


def _parse(model: type[_M], body: Any, path: str) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise TogetherAPIError(
            f"GET {path} answered with an unexpected shape ({describe_validation_error(exc)}). "
            "The API may have changed: update byom-mcp.",
        ) from exc
