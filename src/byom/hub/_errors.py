"""The one seam where huggingface_hub / httpx2 exceptions become byom errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import parse_ratelimit_headers

from byom.errors import (
    EntryNotFound,
    GatedRepo,
    HubError,
    HubUnreachable,
    PrivateRepo,
    RateLimited,
    RepoNotFound,
    RevisionNotFound,
)

__all__ = ["hub_errors", "retry_after_seconds"]

_HUB = "https://huggingface.co"


def retry_after_seconds(response: httpx2.Response | None) -> float | None:
    """Seconds to wait from ``Retry-After`` (or the IETF ``RateLimit`` header the Hub sends)."""
    if response is None:
        return None
    raw = response.headers.get("Retry-After")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass  # an HTTP-date: fall through to the RateLimit header
    info = parse_ratelimit_headers(response.headers)
    return float(info.reset_in_seconds) if info is not None else None


@contextmanager
def hub_errors(repo_id: str, *, revision: str | None, has_token: bool, what: str) -> Iterator[None]:
    """Translate Hub/transport failures while fetching ``what`` from ``repo_id`` into byom HubErrors."""
    page = f"{_HUB}/{repo_id}"
    rev = f" at revision {revision!r}" if revision else ""
    try:
        yield
    except GatedRepoError as exc:  # subclass of RepositoryNotFoundError: must come first
        step = (
            "Your token has no access yet: accept the terms at "
            + page
            + " (approval can take a while), then retry."
            if has_token
            else f"Request access at {page}, then set HF_TOKEN (or run `hf auth login`) and retry."
        )
        raise GatedRepo(f"{repo_id} is a gated repo and {what} could not be read. {step}") from exc
    except RepositoryNotFoundError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401 and not has_token:
            raise PrivateRepo(
                f"{repo_id} was not found without a Hugging Face token: it is private, or it does not exist. "
                f"If it is yours or shared with you, set HF_TOKEN (or run `hf auth login`) and retry; "
                f"otherwise check the spelling at {_HUB}/models."
            ) from exc
        raise RepoNotFound(
            f"No model repo {repo_id!r} on the Hugging Face Hub"
            + (" that your token can read" if has_token else "")
            + f". Check the spelling (org/name) at {_HUB}/models"
            + (", and that the token has read access to it." if has_token else ".")
        ) from exc
    except RevisionNotFoundError as exc:
        raise RevisionNotFound(
            f"{repo_id} has no revision {revision!r}. Use a branch, tag or commit listed at {page}/tree/main "
            "(or leave the revision out for the default branch)."
        ) from exc
    except EntryNotFoundError as exc:
        raise EntryNotFound(
            f"{repo_id}{rev} has no {what}. A transformers checkpoint needs config.json (an adapter needs "
            f"adapter_config.json); check the files at {page}/tree/{revision or 'main'}."
        ) from exc
    except DisabledRepoError as exc:
        raise RepoNotFound(f"{repo_id} has been disabled on the Hub. Pick another repo.") from exc
    except HfHubHTTPError as exc:
        response = exc.response
        status = response.status_code if response is not None else None
        if status == 429:
            wait = retry_after_seconds(response)
            after = f" in {wait:g} seconds" if wait is not None else " in a minute"
            raise RateLimited(
                f"The Hugging Face Hub rate-limited us while reading {what} of {repo_id}. Retry{after}; "
                "setting HF_TOKEN raises the limit.",
                retry_after=wait,
            ) from exc
        if status in (401, 403):
            raise PrivateRepo(
                f"The Hub refused access to {what} of {repo_id} (HTTP {status}). "
                + (
                    "Check that your token has read access to this repo."
                    if has_token
                    else "Set HF_TOKEN and retry."
                )
            ) from exc
        if status is not None and status >= 500:
            raise HubUnreachable(
                f"The Hugging Face Hub answered HTTP {status} for {what} of {repo_id}. Retry in a few minutes."
            ) from exc
        raise HubError(
            f"The Hub answered HTTP {status} for {what} of {repo_id}. Check the repo page {page}."
        ) from exc
    except OfflineModeIsEnabled as exc:
        raise HubUnreachable(
            f"Cannot read {what} of {repo_id}: HF_HUB_OFFLINE is set. Unset it, or inspect a local directory instead."
        ) from exc
    except httpx2.TransportError as exc:
        raise HubUnreachable(
            f"Cannot reach the Hugging Face Hub to read {what} of {repo_id} ({type(exc).__name__}). "
            "Check your network or proxy (HTTPS_PROXY), or inspect a local directory instead."
        ) from exc
    except HFValidationError as exc:
        raise RepoNotFound(
            f"{repo_id!r} is not a valid Hub repo id. Use the form org/name (e.g. HuggingFaceTB/SmolLM2-135M), "
            "or give the path of a local directory."
        ) from exc
