"""Every error byom raises on purpose, in one tree.

    ByomError
    ├── ConfigError              a setting or environment variable is wrong
    ├── HubError                 the Hugging Face Hub (or a local model directory) said no
    │   ├── RepoNotFound
    │   ├── GatedRepo
    │   ├── PrivateRepo
    │   ├── RevisionNotFound
    │   ├── EntryNotFound        a file the check needs (config.json, ...) is missing
    │   ├── UnsafeModelFile      a file of a local model directory leads out of it, or is no regular file
    │   ├── HubUnreachable       offline, DNS, timeout
    │   └── RateLimited
    ├── CatalogError             no Together base model fits, or an unknown base name
    ├── PreflightError           a plan cannot go ahead: something to fix before anything is spent or changed
    │   ├── SpendingLimit        BYOM_MAX_USD / BYOM_MAX_USD_PER_DAY (or a token's default cap) would be broken
    │   ├── PriceChanged         the backend's estimate after the upload is well above the figure confirmed
    │   └── CreateInFlight       the same create is being sent right now (another call, another window)
    ├── TogetherAPIError         Together's API (or the local engine) answered with an error
    │   ├── RequestOutcomeUnknown  a create was sent but its answer was lost: it may have happened
    │   └── ResourceNotFound     an id the backend does not know (the client's 404, once)
    │       ├── JobNotFound, FileNotFound, EndpointNotFound, RegistryModelNotFound
    └── EngineError              the local engine could not do what was asked (Together's error body, 500)
        ├── InvalidRequest       400: the request names a bad value; ``param`` says which
        ├── Unauthorized         401: no key, or the wrong one
        ├── PermissionDenied     403
        ├── NotFound             404: an unknown id or path
        ├── MethodNotAllowed     405
        ├── Conflict             409: a name taken, an etag gone stale, a state that forbids it
        ├── PayloadTooLarge      413: an upload over the engine's cap
        ├── QueueFull            429: the engine already holds its cap of queued jobs
        ├── ModelLoading         503: a model served on demand is still loading; call again in a few seconds
        ├── InsufficientStorage  507: the engine cannot write its data dir (disk full, not writable)
        └── TrainingError        the trainer could not train (in the trainer process)

Rules: a message says what was wrong and ends with what to do next; it never contains a
token or key. Each boundary translates foreign exceptions once (``raise ... from exc``).
Tools turn a ``ByomError`` into the SDK's ``ToolError`` so the model reads the message; the
engine's one handler (``byom.engine.http``) turns an ``EngineError`` into Together's error body
with the class's status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "ByomError",
    "CatalogError",
    "ConfigError",
    "Conflict",
    "CreateInFlight",
    "EndpointNotFound",
    "EngineError",
    "EntryNotFound",
    "FileNotFound",
    "GatedRepo",
    "HubError",
    "HubUnreachable",
    "InsufficientStorage",
    "InvalidRequest",
    "JobNotFound",
    "MethodNotAllowed",
    "ModelLoading",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "PreflightError",
    "PriceChanged",
    "PrivateRepo",
    "QueueFull",
    "RateLimited",
    "RegistryModelNotFound",
    "RepoNotFound",
    "RequestOutcomeUnknown",
    "ResourceNotFound",
    "RevisionNotFound",
    "SpendingLimit",
    "TogetherAPIError",
    "TrainingError",
    "Unauthorized",
    "UnsafeModelFile",
    "describe_validation_error",
    "root_error_line",
]


def describe_validation_error(exc: ValidationError, *, limit: int = 3) -> str:
    """``field: message`` per problem, for a message: no input values, no pydantic doc links."""
    problems = exc.errors(include_url=False, include_input=False)
    parts = [
        f"{'.'.join(str(p) for p in err['loc']) or '(whole value)'}: {err['msg']}" for err in problems[:limit]
    ]
    more = len(problems) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


class ByomError(Exception):
    """Root of every error byom raises on purpose."""


class ConfigError(ByomError):
    """A setting or environment variable is missing or malformed."""


class HubError(ByomError):
    """The Hub, or a local model directory, could not give us what we need."""


class RepoNotFound(HubError):
    pass


class GatedRepo(HubError):
    pass


class PrivateRepo(HubError):
    pass


class RevisionNotFound(HubError):
    pass


class EntryNotFound(HubError):
    pass


class UnsafeModelFile(HubError):
    """A model directory's file is a link that leads out of it (or into /proc, /sys, /dev), or a FIFO, socket
    or device: byom never opens it (``byom.contained``)."""


class HubUnreachable(HubError):
    pass


class RateLimited(HubError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CatalogError(ByomError):
    pass


class PreflightError(ByomError):
    """A launch, deploy or endpoint change that cannot go ahead as asked; the message says what to fix."""


class SpendingLimit(PreflightError):
    """A confirmed spend would break ``BYOM_MAX_USD`` or ``BYOM_MAX_USD_PER_DAY``; the message says by how much."""


class PriceChanged(PreflightError):
    """After the upload, the backend's estimate is more than 10% above the price the user confirmed."""


class CreateInFlight(PreflightError):
    """The ledger holds this very request as being sent now: a second POST could make a second job."""


class TogetherAPIError(ByomError):
    """An error answer from Together's API or the local engine (same wire shape)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.request_id = request_id


class RequestOutcomeUnknown(TogetherAPIError):
    """A request that is not safe to repeat (``POST /v1/fine-tunes``, a create) may have reached the server,
    but its answer was lost (read timeout, reset connection). It was not retried: the resource may exist.
    Look it up (list the jobs, endpoints or deployments) before sending it again."""


class ResourceNotFound(TogetherAPIError):
    """The backend does not know this id: raised by the client's ``retrieve_*`` (one translation of a 404), with
    the message that says where to find a real one."""


class JobNotFound(ResourceNotFound):
    """No fine-tune job with this id (a 404, or the 400 an id of the wrong shape gets)."""


class FileNotFound(ResourceNotFound):
    """No uploaded file with this id."""


class EndpointNotFound(ResourceNotFound):
    """No dedicated endpoint with this id."""


class RegistryModelNotFound(ResourceNotFound):
    """No model with this id in the project's registry."""


class EngineError(ByomError):
    """The local engine could not do what was asked; the fields make Together's error body.

    ``status_code`` and ``error_type`` come from the class (subclasses below); ``param`` names the
    field at fault, ``code`` is a machine-readable reason, ``headers`` go on the response (e.g.
    ``x-should-retry``) and ``extra`` adds top-level keys to the body.
    """

    status_code: int = 500
    error_type: str = "server_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if type is not None:
            self.error_type = type
        self.headers = headers
        self.extra = extra


class InvalidRequest(EngineError):
    status_code = 400
    error_type = "invalid_request_error"


class Unauthorized(EngineError):
    status_code = 401
    error_type = "authentication_error"


class PermissionDenied(EngineError):
    status_code = 403
    error_type = "permission_error"


class NotFound(EngineError):
    status_code = 404
    error_type = "not_found_error"


class MethodNotAllowed(EngineError):
    status_code = 405
    error_type = "invalid_request_error"


class Conflict(EngineError):
    status_code = 409
    error_type = "conflict_error"


class PayloadTooLarge(EngineError):
    status_code = 413
    error_type = "request_too_large"


class QueueFull(EngineError):
    """Not a rate limit: waiting a few seconds does not help. Sent with ``code=QueueFull.CODE`` so that a client
    tells the user to cancel or wait for queued jobs instead of retrying."""

    status_code = 429
    error_type = "rate_limit_error"
    CODE = "queue_full"


class ModelLoading(EngineError):
    """A model served on demand (no deployment) is loading in the background; the same request succeeds once it
    has loaded. Sent with ``code=ModelLoading.CODE`` and ``Retry-After``."""

    status_code = 503
    CODE = "model_loading"


class InsufficientStorage(EngineError):
    status_code = 507


class TrainingError(EngineError):
    pass


class ChatTemplateError(TrainingError):
    """A row the model's chat template cannot render: training renders every row with it and would stop there.
    ``sample``: the row's index among the file's samples, where the caller knows it."""

    sample: int | None = None


def root_error_line(exc: BaseException) -> str:
    """'torch.OutOfMemoryError: CUDA out of memory. ...': the type and the first line of the message, truncated.

    What a job event, a deployment status or a log line shows of a foreign exception: never a traceback.
    """
    cls = type(exc)
    module = cls.__module__.split(".")[0]
    name = cls.__name__ if module in ("builtins", "byom", "__main__") else f"{module}.{cls.__name__}"
    text = str(exc).strip().splitlines()
    return f"{name}: {text[0][:500]}" if text else name
