"""The async client for Together's REST API, and for the local engine that speaks it.

``base_url`` is the server root (``https://api.together.ai`` or ``http://127.0.0.1:8377``): every
path carries its own ``/v1``, ``/v2`` or ``/v3`` prefix, as in SDK 3.1.1 (ref 2026-11 §0.1).

Over 600 lines on purpose: it is the one seam to the API (retries, error translation, parsing), and the
rest is one short method per REST call (about 45, each a line or three around ``_call``); the shapes they
parse into live in their own modules, one a resource family.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self, TypeVar
from urllib.parse import quote

import anyio
import httpx2
from pydantic import BaseModel, SecretStr, ValidationError

from byom.config import Settings, engine_data_dir, read_engine_key
from byom.errors import (
    EndpointNotFound,
    FileNotFound,
    JobNotFound,
    RegistryModelNotFound,
    RequestOutcomeUnknown,
    ResourceNotFound,
    TogetherAPIError,
    describe_validation_error,
)
from byom.together._endpoints import (
    Deployment,
    DeploymentAdapter,
    DeploymentAdapterList,
    DeploymentList,
    Endpoint,
    EndpointEvent,
    EndpointEventList,
    EndpointList,
    TrafficSplitEntry,
)
from byom.together._evals import EvaluationCreated, EvaluationJob, EvaluationModelList, ServerlessModelPage
from byom.together._files import (
    FileList,
    FileObject,
)
from byom.together._finetunes import (
    FinetuneList,
    FinetunePreview,
    FinetuneResponse,
    PriceEstimate,
)
from byom.together._identity import (
    Whoami,
)
from byom.together._inference import (
    ChatCompletion,
)
from byom.together._job_records import (
    FinetuneCheckpoint,
    FinetuneCheckpointList,
    FinetuneEvent,
    FinetuneEventList,
    FinetuneMetrics,
)
from byom.together._registry import (
    InstanceType,
    InstanceTypeList,
    RegistryModel,
    ServingConfig,
    ServingConfigList,
)
from byom.together._requests import (
    AUTOSCALING_MASK,
    TRAFFIC_SPLIT_MASK,
    DeploymentCreate,
    FinetuneRequest,
    autoscaling_update_body,
    traffic_split_body,
)
from byom.together._supported_models import (
    FinetuneModelLimits,
    SupportedModel,
    SupportedModelPage,
)
from byom.together._upload import Progress
from byom.together._upload import upload_file as _upload_file
from byom.together.errors import error_from_response, error_from_transport, retry_after_seconds

__all__ = ["DEFAULT_BASE_URL", "TogetherClient"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.together.ai"
# SDK 3.1.1 retries 408/409/429/≥500 (ref 2026-11 §5.5); 409 is left out because it reports a
# state conflict that a blind retry does not fix.
RETRY_STATUSES = frozenset({408, 429})
# Only methods that are safe to repeat are retried on an error answer or a lost answer. Unlike the
# SDK, a POST create is never retried once it may have reached the server: with no idempotency key a
# retry can create a second job (together-api.md §14 #6). Callers mark the POSTs that are safe.
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Errors raised before a byte of the request left: any method may be sent again after them.
_UNSENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
# File states that end a wait_file: validation is over.
_FILE_SETTLED = frozenset({"COMPLETED", "FAILED", "INVALID_FORMAT"})
_JOB_MAY_EXIST = (
    "A fine-tune job may have been created: list the jobs (GET /v1/fine-tunes, newest first) and look for it "
    "before creating it again."
)
# Honour a server's Retry-After only up to this long, as the SDK does (0 < value ≤ 60 s).
_MAX_RETRY_AFTER = 60.0
# Guard against a server that keeps handing back cursors.
_MAX_PAGES = 100
_MAX_REDIRECTS = 3  # a download's presigned URL, and no loop

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
        self._timeout = timeout
        self._connect_timeout = connect_timeout
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

    def upload_timeout(self) -> httpx2.Timeout:
        """For the bytes of an upload: a long write (a big file on a slow link), the client's connect."""
        return httpx2.Timeout(max(self._timeout, 300.0), connect=self._connect_timeout, write=3600.0)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: dict[str, tuple[None, str]] | None = None,
        content: Callable[[], AsyncIterator[bytes]] | None = None,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        authorize: bool = True,
        retry: bool | None = None,
        expect: Collection[int] = (),
        unknown_hint: str | None = None,
    ) -> httpx2.Response:
        """Send one request; retry when safe; raise ``TogetherAPIError`` for any non-2xx answer.

        ``path`` may be an absolute URL (an upload's ``Location``). ``retry`` (default: by method) says the
        request is safe to repeat; any request is sent again after an error that proves nothing left
        (connect, pool). One that is not safe and may have reached the server raises
        ``RequestOutcomeUnknown`` (with ``unknown_hint`` as the next step). ``content`` makes a fresh body
        per attempt; ``expect`` lists non-2xx statuses handed back rather than raised; ``authorize=False``
        sends no API key (a presigned upload URL must not see it).
        """
        method = method.upper()
        may_retry = (method in _IDEMPOTENT) if retry is None else retry
        attempts = 1 + self.max_retries
        secret = self._api_key.get_secret_value() if self._api_key is not None else None
        for attempt in range(attempts):
            last = attempt == attempts - 1
            request = self._http.build_request(
                method,
                path,
                params=params,
                json=json,
                files=files,
                content=content() if content is not None else None,
                headers=headers,
                timeout=timeout if timeout is not None else httpx2.USE_CLIENT_DEFAULT,
            )
            if not authorize:
                request.headers.pop("Authorization", None)
            where = f"{method} {request.url.path}"  # never the query: an upload URL carries its token there
            try:
                response = await self._http.send(request)
            except httpx2.TransportError as exc:
                if not may_retry and not isinstance(exc, _UNSENT):
                    raise _outcome_unknown(where, exc, unknown_hint) from exc
                if last:
                    raise error_from_transport(exc, self.base_url) from exc
                delay = self._backoff(attempt, None)
                logger.info("%s: %s; retrying in %.1f s", where, type(exc).__name__, delay)
                await self._sleep(delay)
                continue
            if response.is_success or response.status_code in expect:
                return response
            should = response.headers.get("x-should-retry")
            retryable = may_retry and should != "false"
            retryable = retryable and (
                should == "true" or response.status_code in RETRY_STATUSES or response.status_code >= 500
            )
            if not retryable or last:
                raise error_from_response(response, secret=secret)
            delay = self._backoff(attempt, response)
            logger.info("%s → %s; retrying in %.1f s", where, response.status_code, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_json(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and decode its JSON body."""
        return _json(await self.request("GET", path, params=params))

    async def _call(self, model: type[_M], method: str, path: str, **kwargs: Any) -> _M:
        """One request whose answer is a ``model``."""
        response = await self.request(method, path, **kwargs)
        return _parse(model, _json(response), f"{method} {path}")

    async def _pages(self, model: type[_M], path: str, params: dict[str, Any] | None = None) -> list[_M]:
        """Every page of a v2 list, following ``next_cursor`` with ``after`` (ref §3.3, §5.8)."""
        params = dict(params or {})
        pages: list[_M] = []
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            page = await self._call(model, "GET", path, params=params)
            pages.append(page)
            cursor = getattr(page, "next_cursor", None)  # every list page model declares it
            if not cursor or cursor in seen:
                break
            seen.add(cursor)
            params["after"] = cursor
        return pages

    # -- catalogue --

    async def supported_models(
        self, product: str | None = "PRODUCT_FINE_TUNING", *, limit: int | None = None
    ) -> list[SupportedModel]:
        """Every model in ``GET /v2/supported-models`` for ``product``, following ``next_cursor``."""
        params: dict[str, Any] = {}
        if product:
            params["product"] = product
        if limit:
            params["limit"] = limit
        pages = await self._pages(SupportedModelPage, "/v2/supported-models", params)
        return [model for page in pages for model in page.data]

    async def model_limits(self, model_name: str) -> FinetuneModelLimits:
        """``GET /v1/fine-tunes/models/limits?model_name=`` for one base model."""
        return await self._call(
            FinetuneModelLimits, "GET", "/v1/fine-tunes/models/limits", params={"model_name": model_name}
        )

    # -- files (ref §1) --

    async def upload_file(
        self,
        path: Path,
        *,
        purpose: str = "fine-tune",
        progress: Progress | None = None,
    ) -> FileObject:
        """Upload a local ``.jsonl``/``.parquet``/``.csv`` file the SDK's way; the same bytes again give the
        file already stored (409 dedupe). The answer is the file as preprocessing started: ``wait_file``
        for its validation. ``progress(sent, total)`` is awaited after each 1 MiB chunk."""
        return await _upload_file(self, path, purpose=purpose, progress=progress)

    async def retrieve_file(self, file_id: str) -> FileObject:
        """``GET /v1/files/{id}``, with its ``processing_status`` and ``validation_report``."""
        with _not_found_as(
            FileNotFound,
            f"No file {file_id!r} on {self.base_url}. Pass the absolute path of a local .jsonl/.parquet file (it is "
            "uploaded for you), or an id from an earlier upload.",
        ):
            return await self._call(FileObject, "GET", f"/v1/files/{_q(file_id)}")

    async def file_content(self, file_id: str) -> bytes:
        """``GET /v1/files/{id}/content``: the file's bytes (an evaluation's result file)."""
        return (await self.request("GET", f"/v1/files/{_q(file_id)}/content")).content

    async def list_files(self) -> list[FileObject]:
        """``GET /v1/files`` (unpaginated)."""
        return (await self._call(FileList, "GET", "/v1/files")).data

    async def wait_file(self, file_id: str, *, timeout: float, interval: float = 1.0) -> FileObject:
        """Poll the file until its validation settles (COMPLETED, FAILED, INVALID_FORMAT; no status at all
        means an old, ready file) or ``timeout`` seconds pass; the last state seen either way."""
        deadline = time.monotonic() + timeout
        while True:
            file = await self.retrieve_file(file_id)
            if file.processing_status is None or file.processing_status in _FILE_SETTLED:
                return file
            if time.monotonic() >= deadline:
                return file
            await self._sleep(interval)

    # -- fine-tunes (ref §2) --

    async def estimate_price(self, request: FinetuneRequest, *, with_model: bool = False) -> PriceEstimate:
        """``POST /v1/fine-tunes/estimate-price`` with the body the SDK sends for ``request`` (read-only: retried).

        ``with_model`` adds ``from_hf_model`` (a byom engine extension: the engine then counts with the custom
        model's tokenizer, exactly as its trainer will; Together's route names no such field)."""
        body = request.estimate_body()
        if with_model and request.from_hf_model:
            body["from_hf_model"] = request.from_hf_model
            if request.hf_model_revision:
                body["hf_model_revision"] = request.hf_model_revision
        return await self._call(PriceEstimate, "POST", "/v1/fine-tunes/estimate-price", json=body, retry=True)

    async def create_finetune(self, request: FinetuneRequest) -> FinetuneResponse:
        """``POST /v1/fine-tunes``: starts a (billed) job. Sent once: a lost answer raises
        ``RequestOutcomeUnknown`` (the job may exist; list the jobs), never a blind second job."""
        return await self._call(
            FinetuneResponse,
            "POST",
            "/v1/fine-tunes",
            json=request.wire(),
            retry=False,
            unknown_hint=_JOB_MAY_EXIST,
        )

    async def retrieve_finetune(self, job_id: str) -> FinetuneResponse:
        with _not_found_as(
            JobNotFound,
            f"No job {job_id!r} on {self.base_url}. Call list_jobs to see the recent jobs and their ids.",
            also=(400,),
        ):
            return await self._call(FinetuneResponse, "GET", f"/v1/fine-tunes/{_q(job_id)}")

    async def list_finetunes(self) -> list[FinetuneResponse]:
        """``GET /v1/fine-tunes``, newest first (jobs without ``created_at`` last)."""
        jobs = (await self._call(FinetuneList, "GET", "/v1/fine-tunes")).data
        return sorted(
            jobs, key=lambda j: j.created_at.timestamp() if j.created_at else float("-inf"), reverse=True
        )

    async def finetune_events(self, job_id: str) -> list[FinetuneEvent]:
        return (await self._call(FinetuneEventList, "GET", f"/v1/fine-tunes/{_q(job_id)}/events")).data

    async def finetune_checkpoints(self, job_id: str) -> list[FinetuneCheckpoint]:
        path = f"/v1/fine-tunes/{_q(job_id)}/checkpoints"
        return (await self._call(FinetuneCheckpointList, "GET", path)).data

    async def finetune_metrics(self, job_id: str) -> FinetuneMetrics:
        return await self._call(FinetuneMetrics, "GET", f"/v1/fine-tunes/{_q(job_id)}/metrics")

    async def cancel_finetune(self, job_id: str) -> FinetuneResponse:
        """``POST /v1/fine-tunes/{id}/cancel`` (safe to repeat: retried)."""
        return await self._call(FinetuneResponse, "POST", f"/v1/fine-tunes/{_q(job_id)}/cancel", retry=True)

    # -- identity, registry and hardware (ref §3.2, §3.6–§3.8) --

    async def whoami(self) -> Whoami:
        """``GET /v3/whoami``: for a project key, ``project.id`` is the v2 ``project_id``."""
        return await self._call(Whoami, "GET", "/v3/whoami")

    async def retrieve_model(self, project_id: str, model_id: str) -> RegistryModel:
        with _not_found_as(
            RegistryModelNotFound,
            f"The registry has no model {model_id} in project {project_id}. job_status shows a completed job's "
            "model ids.",
        ):
            return await self._call(RegistryModel, "GET", f"{_project(project_id)}/models/{_q(model_id)}")

    async def list_configs(
        self, project_id: str, *, reference_model: str | None = None, reference_model_id: str | None = None
    ) -> list[ServingConfig]:
        """Serving configs compatible with a model (``referenceModel`` is ``projects/{p}/models/{ml}``)."""
        params = {
            k: v
            for k, v in (("referenceModel", reference_model), ("referenceModelId", reference_model_id))
            if v
        }
        pages = await self._pages(ServingConfigList, f"{_project(project_id)}/configs", params)
        return [config for page in pages for config in page.data]

    async def list_instance_types(self) -> list[InstanceType]:
        pages = await self._pages(InstanceTypeList, "/v2/public/inference-instance-types")
        return [kind for page in pages for kind in page.data]

    # -- endpoints and deployments (ref §3.4, §3.5, §3.10, §3.11) --

    async def create_endpoint(self, project_id: str, name: str) -> Endpoint:
        """``POST …/endpoints {name}``; a taken name is a 409 (find it with ``list_endpoints(name=…)``)."""
        return await self._call(
            Endpoint,
            "POST",
            f"{_project(project_id)}/endpoints",
            json={"name": name},
            unknown_hint=f"The endpoint may have been created: list_endpoints(name={name!r}) before creating it.",
        )

    async def retrieve_endpoint(self, project_id: str, endpoint_id: str) -> Endpoint:
        with _not_found_as(
            EndpointNotFound,
            f"No endpoint {endpoint_id!r} in project {project_id} on {self.base_url}. Pass the endpoint id (ep_…) or "
            "name that deploy_endpoint returned.",
        ):
            return await self._call(Endpoint, "GET", _endpoint(project_id, endpoint_id))

    async def list_endpoints(self, project_id: str, *, name: str | None = None) -> list[Endpoint]:
        """The project's endpoints; ``name`` (bare or ``slug/name``) filters to that one."""
        params = {"filter": f'name="{name.split("/")[-1]}"'} if name else None
        pages = await self._pages(EndpointList, f"{_project(project_id)}/endpoints", params)
        return [endpoint for page in pages for endpoint in page.data]

    async def set_traffic_split(
        self, project_id: str, endpoint_id: str, split: list[TrafficSplitEntry], *, etag: str | None
    ) -> Endpoint:
        """``PATCH …/endpoints/{ep}?updateMask=trafficSplit``; an empty split routes nothing."""
        return await self._call(
            Endpoint,
            "PATCH",
            _endpoint(project_id, endpoint_id),
            params={"updateMask": TRAFFIC_SPLIT_MASK},
            json=traffic_split_body(split, etag=etag),
            unknown_hint="Fetch the endpoint to see whether its trafficSplit changed.",
        )

    async def delete_endpoint(self, project_id: str, endpoint_id: str, *, etag: str | None = None) -> None:
        """``DELETE …/endpoints/{ep}``: its deployments must be deleted first."""
        await self.request("DELETE", _endpoint(project_id, endpoint_id), params=_etag(etag))

    async def endpoint_events(
        self, project_id: str, endpoint_id: str, *, min_level: str | None = None, limit: int = 20
    ) -> list[EndpointEvent]:
        """The newest ``limit`` events of an endpoint (``min_level``: ``LEVEL_WARN``, ...), newest first."""
        params: dict[str, Any] = {"limit": limit}
        if min_level:
            params["minLevel"] = min_level
        path = f"{_endpoint(project_id, endpoint_id)}/events"
        return (await self._call(EndpointEventList, "GET", path, params=params)).data

    async def create_deployment(
        self, project_id: str, endpoint_id: str, body: DeploymentCreate
    ) -> Deployment:
        """``POST …/endpoints/{ep}/deployments``: provisions asynchronously (poll ``retrieve_deployment``)."""
        return await self._call(
            Deployment,
            "POST",
            f"{_endpoint(project_id, endpoint_id)}/deployments",
            json=body.wire(),
            unknown_hint="The deployment may have been created (and may be billing): list_deployments first.",
        )

    async def retrieve_deployment(self, project_id: str, endpoint_id: str, deployment_id: str) -> Deployment:
        return await self._call(Deployment, "GET", _deployment(project_id, endpoint_id, deployment_id))

    async def list_deployments(self, project_id: str, endpoint_id: str) -> list[Deployment]:
        pages = await self._pages(DeploymentList, f"{_endpoint(project_id, endpoint_id)}/deployments")
        return [dep for page in pages for dep in page.data]

    async def scale_deployment(
        self,
        project_id: str,
        endpoint_id: str,
        deployment_id: str,
        *,
        min_replicas: int,
        max_replicas: int,
        etag: str | None = None,
    ) -> Deployment:
        """Set the replica range; 0/0 stops the deployment, ≥ 1 starts it again (ref §3.11)."""
        return await self._call(
            Deployment,
            "PATCH",
            _deployment(project_id, endpoint_id, deployment_id),
            params={"updateMask": AUTOSCALING_MASK},
            json=autoscaling_update_body(min_replicas=min_replicas, max_replicas=max_replicas, etag=etag),
            unknown_hint="Fetch the deployment to see whether its autoscaling changed.",
        )

    async def delete_deployment(
        self, project_id: str, endpoint_id: str, deployment_id: str, *, etag: str | None = None
    ) -> None:
        """``DELETE …/deployments/{dep}``: take it out of the traffic split first."""
        await self.request("DELETE", _deployment(project_id, endpoint_id, deployment_id), params=_etag(etag))

    # -- inference (ref §4.3) --

    async def chat_completion(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> ChatCompletion:
        """``POST /v1/chat/completions`` without streaming; ``model`` is an endpoint's (or deployment's) name."""
        body: dict[str, Any] = {"model": model, "messages": messages}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if temperature is not None:
            body["temperature"] = temperature
        return await self._call(ChatCompletion, "POST", "/v1/chat/completions", json=body)

    # -- a job's weights (ref §2.1: GET /v1/finetune/download, the SDK's fine_tuning.content) --

    async def download_finetune(
        self,
        job_id: str,
        sink: BinaryIO,
        *,
        checkpoint: str,
        max_bytes: int,
        progress: Callable[[int, int | None], Awaitable[None]] | None = None,
    ) -> int:
        """Stream a completed job's ``checkpoint`` (adapter | merged | model_output_path) archive into ``sink``.

        A redirect (a presigned URL) is followed without the API key. Returns the bytes written; raises
        ``TogetherAPIError`` for an error answer, or an archive over ``max_bytes`` (announced or received).
        """
        url: str = "/v1/finetune/download"
        params: dict[str, Any] | None = {"ft_id": job_id, "checkpoint": checkpoint}
        secret = self._api_key.get_secret_value() if self._api_key is not None else None
        timeout = httpx2.Timeout(max(self._timeout, 300.0), connect=self._connect_timeout)
        for hop in range(_MAX_REDIRECTS + 1):
            request = self._http.build_request("GET", url, params=params, timeout=timeout)
            if hop:
                request.headers.pop("Authorization", None)
            try:
                response = await self._http.send(request, stream=True)
            except httpx2.TransportError as exc:
                raise error_from_transport(exc, self.base_url) from exc
            try:
                location = response.headers.get("location")
                if response.is_redirect and location:
                    url, params = location, None
                    continue
                if not response.is_success:
                    await response.aread()
                    raise error_from_response(response, secret=secret)
                announced = response.headers.get("content-length")
                total = int(announced) if announced and announced.isdigit() else None
                written = 0
                async for chunk in response.aiter_bytes():
                    written += len(chunk)
                    if written > max_bytes or (total or 0) > max_bytes:
                        raise TogetherAPIError(
                            f"The weights of job {job_id} are over {max_bytes / 1024**3:.1f} GiB, more than this "
                            "machine can serve; the download was stopped.",
                            status_code=response.status_code,
                        )
                    sink.write(chunk)
                    if progress is not None:
                        await progress(written, total)
                return written
            except httpx2.TransportError as exc:
                raise error_from_transport(exc, self.base_url) from exc
            finally:
                await response.aclose()
        raise TogetherAPIError(
            f"GET /v1/finetune/download for {job_id} redirected more than {_MAX_REDIRECTS} times."
        )

    # -- evaluations (ref 2026-12: Together's Evaluations API; the engine adds type "loss") --

    async def create_evaluation(self, type: str, parameters: dict[str, Any]) -> EvaluationCreated:
        """``POST /v1/evaluation``: ``type`` compare, score, classify (or the engine's loss) and its parameters."""
        body = {"type": type, "parameters": parameters}
        return await self._call(EvaluationCreated, "POST", "/v1/evaluation", json=body)

    async def retrieve_evaluation(self, evaluation_id: str) -> EvaluationJob:
        """``GET /v1/evaluation/{id}``: the job, its parameters, status and results."""
        return await self._call(EvaluationJob, "GET", f"/v1/evaluation/{quote(evaluation_id, safe='')}")

    async def evaluation_models(self) -> list[str]:
        """``GET /v1/evaluation/model-list``: the models an evaluation may use (judge or model)."""
        answer = await self._call(EvaluationModelList, "GET", "/v1/evaluation/model-list")
        return answer.model_list

    async def serverless_models(self) -> ServerlessModelPage:
        """``GET /v1/models``: Together's serverless models with their per-token prices."""
        return await self._call(ServerlessModelPage, "GET", "/v1/models")

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

    async def preview_finetune(
        self,
        *,
        model: str,
        training_file: str,
        top_k: int | None = None,
        train_on_inputs: bool | None = None,
        training_method: str | None = None,
    ) -> FinetunePreview:
        """``POST /v1/fine-tunes/preview``: the first ``top_k`` rows of an uploaded file as the trainer tokenizes
        them, with the tokens that carry loss (read-only: retried). Unset arguments are left out, as the SDK does."""
        body: dict[str, Any] = {"model": model, "training_file": training_file}
        for key, value in (
            ("top_k", top_k),
            ("train_on_inputs", train_on_inputs),
            ("training_method", training_method),
        ):
            if value is not None:
                body[key] = value
        return await self._call(FinetunePreview, "POST", "/v1/fine-tunes/preview", json=body, retry=True)


@contextmanager
def _not_found_as(kind: type[ResourceNotFound], message: str, also: tuple[int, ...] = ()) -> Iterator[None]:
    """A 404 (and ``also``) of one ``retrieve_*`` as the typed not-found error, with its next step."""
    try:
        yield
    except TogetherAPIError as exc:
        if exc.status_code == 404 or exc.status_code in also:
            raise kind(message, status_code=exc.status_code, request_id=exc.request_id) from exc
        raise


def _q(segment: str) -> str:
    """A path parameter, percent-encoded as the SDK does (``a/b`` → ``a%2Fb``)."""
    return quote(segment, safe="")


def _project(project_id: str) -> str:
    return f"/v2/projects/{_q(project_id)}"


def _endpoint(project_id: str, endpoint_id: str) -> str:
    return f"{_project(project_id)}/endpoints/{_q(endpoint_id)}"


def _deployment(project_id: str, endpoint_id: str, deployment_id: str) -> str:
    return f"{_endpoint(project_id, endpoint_id)}/deployments/{_q(deployment_id)}"


def _etag(etag: str | None) -> dict[str, Any] | None:
    return {"etag": etag} if etag else None


def _outcome_unknown(where: str, exc: httpx2.TransportError, hint: str | None) -> RequestOutcomeUnknown:
    kind = "timed out" if isinstance(exc, httpx2.TimeoutException) else f"failed ({type(exc).__name__})"
    return RequestOutcomeUnknown(
        f"{where} {kind} after it may have reached the server, so it may have been carried out; it was not "
        f"sent again, as a second one could do it twice. {hint or 'Look the resource up before sending it again.'}",
        status_code=None,
    )


def _json(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise TogetherAPIError(
            f"{response.request.method} {response.request.url.path} answered {response.status_code} with a body "
            "that is not JSON. Check that TOGETHER_BASE_URL points at Together's API root (no /v1) or at the "
            "local engine.",
            status_code=response.status_code,
        ) from exc


def _parse(model: type[_M], body: Any, where: str) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise TogetherAPIError(
            f"{where} answered with an unexpected shape ({describe_validation_error(exc)}). "
            "The API may have changed: update byom-mcp.",
        ) from exc
