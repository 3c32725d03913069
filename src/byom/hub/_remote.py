"""Gather a RepoSnapshot from the Hub in at most ``MAX_REQUESTS`` HTTP requests, never reading weight bytes.

Plan: 1 x model_info(expand=...) (sha, files, gating, the Hub's own safetensors totals, card data), then small
JSON files pinned to the resolved commit with plain GETs (no HEAD: ``hf_hub_download`` would double the count),
then, budget permitting, the base config of an adapter, one safetensors header, and the start of the README.
"""

from __future__ import annotations

import json
import logging
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import quote

from huggingface_hub import HfApi, constants
from huggingface_hub.hf_api import ExpandModelProperty_T
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from byom.errors import EntryNotFound, HubError

from ._errors import hub_errors
from ._params import count_from_config
from ._safetensors import MAX_HEADER_LENGTH, read_streamed_header
from ._snapshot import RepoSnapshot, card_excerpt

__all__ = ["EXPAND", "MAX_REQUESTS", "read_hub"]

log = logging.getLogger(__name__)

MAX_REQUESTS = 4
# Only what the checks use; model_info().config is a reduced subset (no max_position_embeddings, ...), so
# config.json is read anyway and the subset is not requested.
EXPAND: list[ExpandModelProperty_T] = ["sha", "siblings", "gated", "private", "safetensors", "cardData"]
_README_BYTES = 16_384
# get_session() has no timeout of its own; use huggingface_hub's download timeout (HF_HUB_DOWNLOAD_TIMEOUT, 10 s).
_TIMEOUT = float(constants.HF_HUB_DOWNLOAD_TIMEOUT)
_USER_AGENT = "byom-mcp"


class _Budget:
    """Counts wire requests (redirects included) against MAX_REQUESTS."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def left(self) -> int:
        return self.limit - self.used

    def spend(self, n: int) -> None:
        self.used += n


class _HubReader:
    def __init__(self, api: HfApi, token: str | None, repo_id: str, revision: str | None) -> None:
        self.api, self.token, self.repo_id, self.revision = api, token, repo_id, revision
        self.budget = _Budget(MAX_REQUESTS)
        self.sha: str | None = None

    def _errors(self, what: str, repo_id: str | None = None) -> AbstractContextManager[None]:
        return hub_errors(
            repo_id or self.repo_id, revision=self.revision, has_token=bool(self.token), what=what
        )

    def _url(self, repo_id: str, rev: str, filename: str) -> str:
        return f"{self.api.endpoint.rstrip('/')}/{repo_id}/resolve/{quote(rev, safe='')}/{quote(filename)}"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = build_hf_headers(token=self.token or False, library_name=_USER_AGENT)
        return {**headers, **(extra or {})}

    def info(self) -> Any:
        with self._errors("the repo metadata"):
            self.budget.spend(1)
            return self.api.model_info(
                self.repo_id,
                revision=self.revision,
                expand=EXPAND,
                token=self.token or False,
                timeout=_TIMEOUT,
            )

    def get_json(
        self, filename: str, *, repo_id: str | None = None, rev: str | None = None
    ) -> dict[str, Any]:
        repo = repo_id or self.repo_id
        with self._errors(filename, repo):
            response = get_session().get(
                self._url(repo, rev or self.sha or "main", filename),
                headers=self._headers(),
                timeout=_TIMEOUT,
            )
            self.budget.spend(1 + len(response.history))
            hf_raise_for_status(response)
        try:
            data = json.loads(response.content)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise HubError(
                f"{filename} in {repo} is not valid JSON. Fix the file in the repo and retry."
            ) from exc
        if not isinstance(data, dict):
            raise HubError(f"{filename} in {repo} is not a JSON object. Fix the file in the repo and retry.")
        return data

    def safetensors_header(self, filename: str) -> dict[str, int]:
        # One ranged, streamed GET; we stop reading at the end of the header, so tensor bytes are never consumed.
        headers = self._headers({"Range": f"bytes=0-{MAX_HEADER_LENGTH + 7}"})
        url = self._url(self.repo_id, self.sha or "main", filename)
        with (
            self._errors(f"the header of {filename}"),
            get_session().stream("GET", url, headers=headers, timeout=_TIMEOUT) as r,
        ):
            self.budget.spend(1 + len(r.history))
            if r.status_code >= 400:
                r.read()
                hf_raise_for_status(r)
            return read_streamed_header(r.iter_bytes(), filename)

    def readme_start(self) -> str:
        with self._errors("README.md"):
            url = self._url(self.repo_id, self.sha or "main", "README.md")
            with get_session().stream("GET", url, headers=self._headers(), timeout=_TIMEOUT) as r:
                self.budget.spend(1 + len(r.history))
                if r.status_code >= 400:
                    r.read()
                    hf_raise_for_status(r)
                buf = bytearray()
                for chunk in r.iter_bytes():
                    buf.extend(chunk)
                    if len(buf) >= _README_BYTES:
                        break
        return bytes(buf[:_README_BYTES]).decode("utf-8", errors="replace")


def _license(card_data: Any) -> str | None:
    if card_data is None:
        return None
    value = card_data.get("license") if hasattr(card_data, "get") else getattr(card_data, "license", None)
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return str(value) if value else None


def read_hub(api: HfApi, token: str | None, repo_id: str, revision: str | None) -> RepoSnapshot:
    """Fetch the facts about ``repo_id`` at ``revision`` within the request budget."""
    reader = _HubReader(api, token, repo_id, revision)
    info = reader.info()
    reader.sha = info.sha
    files = [s.rfilename for s in (info.siblings or [])]
    snap = RepoSnapshot(
        model=repo_id,
        source="hub",
        revision=revision,
        commit_sha=info.sha,
        files=files,
        gated=info.gated if info.gated is not None else False,
        private=info.private,
        license=_license(info.card_data),
        token_available=bool(token),
    )
    if info.safetensors is not None:
        snap.st_params = dict(info.safetensors.parameters or {})
        snap.st_total = info.safetensors.total
        snap.st_source = "hub_summary"

    if "adapter_config.json" in files:
        snap.adapter_config = reader.get_json("adapter_config.json")
        # The Hub's summary of an adapter repo counts the adapter's tensors, not the base model's.
        snap.adapter_st_total, snap.st_params, snap.st_total, snap.st_source = snap.st_total, None, None, None
    elif "config.json" in files:
        snap.config = reader.get_json("config.json")
    else:
        raise EntryNotFound(
            f"{repo_id} has no config.json (nor adapter_config.json) at commit {info.sha}, so it is not a "
            f"transformers checkpoint (GGUF-only and other formats are not supported by Together BYOM). "
            f"Check the files at https://huggingface.co/{repo_id}/tree/{revision or 'main'}."
        )

    base = (snap.adapter_config or {}).get("base_model_name_or_path")
    if isinstance(base, str) and base:
        if reader.budget.left() >= 1 and base.count("/") == 1 and not base.startswith(("/", ".", "~")):
            try:
                base_rev = snap.adapter_config.get("revision") if snap.adapter_config else None
                snap.base_config = reader.get_json("config.json", repo_id=base, rev=base_rev or "main")
            except HubError as exc:
                snap.base_config_note = f"the base model's config.json could not be read: {exc}"
        else:
            snap.base_config_note = (
                f"the base model {base!r} is not a Hub repo id, so its config was not read; "
                "inspect the base separately for its size and architecture"
            )

    # A safetensors header only matters when the Hub gave no totals and no formula covers the family.
    need_header = (
        snap.config is not None
        and snap.st_total is None
        and "model.safetensors" in files
        and count_from_config(snap.config) is None
    )
    if need_header and reader.budget.left() >= 2:  # a header read may be redirected to the CDN: 2 requests
        counts = reader.safetensors_header("model.safetensors")
        snap.st_params, snap.st_total, snap.st_source = counts, sum(counts.values()), "headers"
        need_header = False

    if "tokenizer_config.json" in files:
        if reader.budget.left() >= 1:
            snap.tokenizer_config = reader.get_json("tokenizer_config.json")
        else:
            snap.skipped.append("tokenizer_config.json (chat template, custom tokenizer code)")

    if (
        snap.config is not None
        and snap.st_total is None
        and "model.safetensors" in files
        and reader.budget.left() >= 2
    ):
        counts = reader.safetensors_header("model.safetensors")
        snap.st_params, snap.st_total, snap.st_source = counts, sum(counts.values()), "headers"
    elif need_header:
        snap.skipped.append("the safetensors header (exact parameter count)")
    elif snap.config is not None and snap.st_total is None and count_from_config(snap.config) is None:
        shards = [f for f in files if f.endswith(".safetensors") and "/" not in f]
        if len(shards) > 1:
            snap.skipped.append(
                f"headers of {len(shards)} safetensors shards (the Hub gave no parameter totals)"
            )

    if "README.md" in files:
        if reader.budget.left() >= 1:
            try:
                text = reader.readme_start()
                snap.card_excerpt = card_excerpt(text)
            except HubError as exc:
                log.info("README of %s not read: %s", repo_id, exc)
        else:
            snap.skipped.append("README.md (model card excerpt)")
    log.debug("inspected %s@%s with %d requests", repo_id, info.sha, reader.budget.used)
    return snap
