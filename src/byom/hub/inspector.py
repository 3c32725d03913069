"""HubInspector: answer "can this checkpoint be fine-tuned on Together BYOM?" from metadata only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, get_token
from huggingface_hub.errors import OIDCError
from huggingface_hub.utils import validate_repo_id

from byom.config import Settings
from byom.errors import RepoNotFound

from ._analyze import analyze
from ._errors import hub_errors
from ._local import read_local
from ._models import Finding, InspectReport
from ._remote import read_hub

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


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", ".\\")) or model.count("/") > 1 or "\\" in model


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
        local = Path(model).expanduser()
        if local.is_dir():
            return analyze(read_local(local), self._settings.transformers_ceiling)
        if _looks_like_path(model) and not model.startswith(_URL_PREFIXES):
            raise RepoNotFound(
                f"{model!r} is not an existing directory. Give the path of a local model directory "
                "(holding config.json), or a Hub repo id such as org/name."
            )
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
            report = analyze(
                read_hub(self._api, self._token, repo_id, rev), self._settings.transformers_ceiling
            )
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

    def clear_cache(self) -> None:
        """Forget cached Hub answers."""
        with self._lock:
            self._cache.clear()
