"""Every error byom raises on purpose, in one tree.

    ByomError
    ├── ConfigError              a setting or environment variable is wrong
    ├── HubError                 the Hugging Face Hub (or a local model directory) said no
    │   ├── RepoNotFound
    │   ├── GatedRepo
    │   ├── PrivateRepo
    │   ├── RevisionNotFound
    │   ├── EntryNotFound        a file the check needs (config.json, ...) is missing
    │   ├── HubUnreachable       offline, DNS, timeout
    │   └── RateLimited
    ├── CatalogError             no Together base model fits, or an unknown base name
    ├── TogetherAPIError         Together's API (or the local engine) answered with an error
    ├── DataValidationError      a training file breaks the dataset rules
    └── EngineError              the local engine could not do what was asked
        └── TrainingError

Rules: a message says what was wrong and ends with what to do next; it never contains a
token or key. Each boundary translates foreign exceptions once (``raise ... from exc``).
Tools turn a ``ByomError`` into the SDK's ``ToolError`` so the model reads the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "ByomError",
    "CatalogError",
    "ConfigError",
    "DataValidationError",
    "EngineError",
    "EntryNotFound",
    "GatedRepo",
    "HubError",
    "HubUnreachable",
    "PrivateRepo",
    "RateLimited",
    "RepoNotFound",
    "RevisionNotFound",
    "TogetherAPIError",
    "TrainingError",
    "describe_validation_error",
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


class HubUnreachable(HubError):
    pass


class RateLimited(HubError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CatalogError(ByomError):
    pass


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


class DataValidationError(ByomError):
    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class EngineError(ByomError):
    pass


class TrainingError(EngineError):
    pass
