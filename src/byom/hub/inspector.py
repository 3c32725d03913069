"""HubInspector: answer "can this checkpoint be fine-tuned on Together BYOM?" from metadata only."""

from __future__ import annotations

import difflib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import OIDCError
from huggingface_hub.utils import validate_repo_id

from byom.config import Settings
from byom.errors import HubUnreachable, PrivateRepo, RepoNotFound

from ._analyze import analyze
from ._errors import hub_errors
from ._local import local_errors, read_local
from ._models import Finding, InspectReport
from ._remote import read_hub
from ._snapshot import RepoSnapshot

__all__ = ["HubInspector", "parse_model_ref"]

log = logging.getLogger(__name__)


_URL_PREFIXES = (
    "https://huggingface.co/",
    "http://huggingface.co/",
    "https://hf.co/",
    "huggingface.co/",
    "hf.co/",
)


def parse_model_ref(model: str, revision: str | None) -> tuple[str, str | None, str | None]:
    """Split ``org/name@rev`` (or a Hub URL); return (repo_id, revision, note) where ``revision`` wins."""
    ref = model.strip()
    for prefix in _URL_PREFIXES:
        if ref.startswith(prefix):
            ref = ref[len(prefix) :].rstrip("/")
            # https://huggingface.co/org/name/tree/<rev> names a revision too.
            head, sep, tree_rev = ref.partition("/tree/")
            ref = f"{head}@{tree_rev}" if sep and tree_rev else head
            break
    repo_id, _, inline = ref.partition("@")
    inline_rev = inline or None
    note = None
    if revision and inline_rev and revision != inline_rev:
        note = f"revision argument {revision!r} overrides {inline_rev!r} given in the model id"
    return repo_id, revision or inline_rev, note


_MAX_SIBLINGS = 1_000  # directory entries compared with a possible typo


def _looks_like_path(model: str) -> bool:
    # One "/" is org/name; a leading "." or "~", a leading "/" or more slashes can only be a path.
    return model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model


def _existing_dir(model: str) -> Path | None:
    """``model`` as an existing local directory, or None; HubError when the path itself is unusable."""
    try:
        path = Path(model).expanduser()
    except RuntimeError:  # ~user for an unknown user: no such directory
        return None
    with local_errors(model):  # a name too long for the file system, a directory we may not enter
        return path if path.is_dir() else None


def _close_directory(model: str) -> str | None:
    """A model directory next to where ``model`` would be whose name is a likely typo of it, if any."""
    path = Path(model)
    parent = path.parent if str(path.parent) else Path(".")
    names: list[str] = []
    try:
        with os.scandir(parent) as entries:
            for i, entry in enumerate(entries):
                if i >= _MAX_SIBLINGS:
                    break
                if entry.is_dir():
                    names.append(entry.name)
    except (OSError, ValueError):
        return None
    for match in difflib.get_close_matches(path.name, names, n=3, cutoff=0.8):
        candidate = parent / match
        # Only a model directory counts: a stray folder named like a Hub id must not hide the Hub.
        try:
            if (candidate / "config.json").is_file() or (candidate / "adapter_config.json").is_file():
                return str(candidate)
        except (OSError, ValueError):
            continue
    return None


def _no_such_directory(model: str, close: str | None) -> RepoNotFound:
    hint = f" (did you mean {close!r}?)" if close else ""
    return RepoNotFound(
        f"{model[:200]!r} is not an existing directory{hint}. Give the path of a local model directory "
        "(holding config.json), or a Hub repo id such as org/name."
    )


def _stored_token() -> str | None:
    """huggingface_hub's stored login (token file, HF_TOKEN, OIDC); None when absent or unusable."""
    try:
        return get_token()
    except (OIDCError, OSError, httpx2.HTTPError) as exc:  # an opted-in OIDC exchange failed: go anonymous
        log.warning(
            "No Hugging Face token from huggingface_hub's login (%s); continuing without one.",
            type(exc).__name__,
        )
        return None


def _cwd() -> str:
    try:
        return os.getcwd()[:200]
    except OSError:  # the working directory was removed
        return "the working directory"


class HubInspector:
    """Inspects Hub repos and local directories; keeps Hub answers for ``settings.hub_cache_ttl`` seconds."""

    def __init__(
        self,
        settings: Settings,
        *,
        api: HfApi | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        # The token comes from settings (HF_TOKEN) or huggingface_hub's stored login, never from a tool argument.
        self._token = settings.hf_token.get_secret_value() if settings.hf_token else _stored_token()
        self._api = api or HfApi(library_name="byom-mcp", token=self._token or False)
        self._clock = clock
        self._cache: dict[tuple[str, str | None], tuple[float, InspectReport]] = {}
        self._lock = threading.Lock()

    def inspect(self, model: str, revision: str | None = None) -> InspectReport:
        """Inspect a Hub repo id (``org/name[@rev]``) or a local directory without downloading weights."""
        model = model.strip()
        local = _existing_dir(model)
        if local is not None:
            return analyze(read_local(local), self._settings.transformers_ceiling)
        if model.startswith(_URL_PREFIXES):
            pass
        elif _looks_like_path(model):
            raise _no_such_directory(model, _close_directory(model))
        elif "/" not in model and (close := _close_directory(model)):
            # "tiny-modle" next to ./tiny-model is a typo of the directory, not a legacy Hub id like gpt2.
            raise _no_such_directory(model, close)
        repo_id, rev, note = parse_model_ref(model, revision)
        with hub_errors(repo_id, revision=rev, has_token=bool(self._token), what="the repo id"):
            validate_repo_id(repo_id)
        key = (repo_id, rev)
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            report = hit[1]
        else:
            report = analyze(self._read_hub(repo_id, rev), self._settings.transformers_ceiling)
            with self._lock:
                self._cache[key] = (now + self._settings.hub_cache_ttl, report)
        if note:
            # Per call, not cached: the same (repo, revision) can be reached with or without a conflict.
            report = report.model_copy(
                update={
                    "findings": [Finding(check="revision", status="info", evidence=note)] + report.findings
                }
            )
        return report

    def _read_hub(self, repo_id: str, rev: str | None) -> RepoSnapshot:
        try:
            return read_hub(self._api, self._token, repo_id, rev)
        except (RepoNotFound, PrivateRepo, HubUnreachable) as exc:
            if "/" in repo_id:
                raise
            # A bare name is a legacy Hub id (gpt2) or a relative path typed wrong: say both.
            raise type(exc)(
                f"{repo_id!r} is not a directory here ({_cwd()}), and the Hub lookup failed: {exc} "
                "If you meant a local model, give the path of its directory (holding config.json)."
            ) from exc

    def clear_cache(self) -> None:
        """Forget cached Hub answers."""
        with self._lock:
            self._cache.clear()
