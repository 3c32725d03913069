"""An in-process fake of the Hugging Face Hub HTTP API, served through httpx2.MockTransport.

Shared by tests/hub and bench/inspect_requests.py. It speaks the parts of the Hub that huggingface_hub 2.4
and byom.hub use: ``/api/models/{repo}[/revision/{rev}]``, ``/{repo}/resolve/{rev}/{file}`` (HEAD + GET, with
``X-Repo-Commit`` and ``ETag``, 302 to a CDN host for LFS files, 206 for ``Range``), and errors carried by
``X-Error-Code``. It records every request and counts the tensor-data bytes it handed out.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.utils import close_session, set_client_factory
from huggingface_hub.utils._http import default_client_factory
from pydantic import SecretStr

from byom.config import Settings
from byom.hub import HubInspector

ENDPOINT = "http://hub.test"
CDN = "http://cdn.hub.test"
TOKEN = "hf_fake_token_for_tests_0123456789"


def safetensors_header(tensors: dict[str, tuple[str, list[int]]]) -> tuple[bytes, int]:
    """Serialize a safetensors prefix+header for ``name -> (dtype, shape)``; return it and the data length."""
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "U8": 1, "I8": 1, "F8_E4M3": 1}
    offset, meta = 0, {}
    for name, (dtype, shape) in tensors.items():
        n = sizes[dtype]
        for d in shape:
            n *= d
        meta[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(meta, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, offset


@dataclass
class WeightFile:
    """A safetensors file: its real header, then ``data_len`` bytes of tensor data produced lazily."""

    header: bytes
    data_len: int

    @property
    def size(self) -> int:
        return len(self.header) + self.data_len


@dataclass
class FakeRepo:
    repo_id: str
    files: dict[str, bytes | WeightFile]
    sha: str = ""
    revisions: dict[str, str] = field(default_factory=dict)
    private: bool = False
    gated: bool | str = False
    safetensors: dict[str, Any] | None = None
    card_data: dict[str, Any] | None = None
    library_name: str | None = "transformers"
    pipeline_tag: str | None = "text-generation"

    def __post_init__(self) -> None:
        if not self.sha:
            self.sha = hashlib.sha1(self.repo_id.encode()).hexdigest()
        self.revisions.setdefault("main", self.sha)

    def config_subset(self) -> dict[str, Any] | None:
        # What the Hub copies into model_info().config (ref hf-hub-and-compat.md 1.2): a reduced subset.
        out: dict[str, Any] = {}
        try:
            cfg = json.loads(self.files.get("config.json", b"{}"))  # type: ignore[arg-type]
        except json.JSONDecodeError:
            cfg = {}  # the Hub skips configs it cannot parse
        if isinstance(cfg, dict):
            for key in ("architectures", "auto_map", "model_type", "quantization_config"):
                if key in cfg:
                    out[key] = cfg[key]
        if "adapter_config.json" in self.files:
            ac = json.loads(self.files["adapter_config.json"])  # type: ignore[arg-type]
            out["peft"] = {k: ac.get(k) for k in ("base_model_name_or_path", "task_type")}
        return out or None

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "_id": self.sha[:24],
            "id": self.repo_id,
            "sha": self.sha,
            "private": self.private,
            "gated": self.gated,
            "siblings": [{"rfilename": name} for name in self.files],
            "cardData": self.card_data,
            "config": self.config_subset(),
            "library_name": self.library_name,
            "pipeline_tag": self.pipeline_tag,
            "tags": [],
        }
        if self.safetensors is not None:
            data["safetensors"] = self.safetensors
        return data


def json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


class FakeHub:
    """Holds fake repos and answers HTTP requests for them."""

    def __init__(self, repos: list[FakeRepo] | None = None, *, token: str = TOKEN) -> None:
        self.repos = {r.repo_id: r for r in repos or []}
        self.token = token
        self.requests: list[httpx2.Request] = []
        self.telemetry: list[httpx2.Request] = []
        self.weight_bytes = 0  # tensor-data bytes actually pulled by the client
        self.rate_limited: dict[str, int] = {}  # repo id -> Retry-After seconds
        self.down = False

    def add(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.repo_id] = repo
        return repo

    def reset_counts(self) -> None:
        self.requests.clear()
        self.weight_bytes = 0

    # -- HTTP ----------------------------------------------------------------------------------------------
    def _error(self, status: int, code: str | None, message: str) -> httpx2.Response:
        headers = {"X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        return httpx2.Response(status, headers=headers, json={"error": message})

    def _authorized(self, request: httpx2.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _lookup(self, request: httpx2.Request, repo_id: str) -> FakeRepo | httpx2.Response:
        if repo_id in self.rate_limited:
            return httpx2.Response(
                429,
                headers={"Retry-After": str(self.rate_limited[repo_id])},
                json={"error": "Too Many Requests"},
            )
        repo = self.repos.get(repo_id)
        authed = self._authorized(request)
        if repo is None or (repo.private and not authed):
            # The Hub answers 401 to anonymous callers for both missing and private repos.
            return self._error(404 if authed else 401, "RepoNotFound", "Repository not found")
        return repo

    def _sha(self, repo: FakeRepo, rev: str) -> str | None:
        if rev in repo.revisions:
            return repo.revisions[rev]
        return rev if rev in repo.revisions.values() else None

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/api/agent-harnesses":
            # huggingface_hub telemetry: fetched once a day (cached in HF_HOME) to tag the User-Agent,
            # not part of any inspection. Counted apart.
            self.telemetry.append(request)
            return httpx2.Response(200, json={"standardEnvVars": [], "harnesses": {}})
        self.requests.append(request)
        if self.down:
            raise httpx2.ConnectError("connection refused", request=request)
        url = request.url
        path = unquote(url.path)
        if url.host == "cdn.hub.test":
            return self._cdn(request, path)
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/") :]
            repo_id, _, rev = rest.partition("/revision/")
            found = self._lookup(request, repo_id)
            if isinstance(found, httpx2.Response):
                return found
            if rev and self._sha(found, rev) is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            info = found.info()
            if rev:
                info["sha"] = self._sha(found, rev)
            return httpx2.Response(200, json=info)
        parts = path.strip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve(request, f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]))
        return self._error(404, None, "Not Found")

    def _resolve(self, request: httpx2.Request, repo_id: str, rev: str, filename: str) -> httpx2.Response:
        found = self._lookup(request, repo_id)
        if isinstance(found, httpx2.Response):
            return found
        sha = self._sha(found, rev)
        if sha is None:
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        if found.gated and not self._authorized(request):
            return self._error(401, "GatedRepo", "Access to model is restricted. You must have access to it.")
        content = found.files.get(filename)
        if content is None:
            return self._error(404, "EntryNotFound", f"{filename} does not exist on {rev}")
        headers = {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha1(filename.encode()).hexdigest()}"'}
        if isinstance(content, WeightFile):
            # LFS files are served from a CDN: the Hub answers with a redirect (one more request).
            location = f"{CDN}/{repo_id}/{sha}/{filename}"
            return httpx2.Response(302, headers={**headers, "Location": location})
        body = content if request.method != "HEAD" else b""
        headers["Content-Length"] = str(len(content))
        return httpx2.Response(200, headers=headers, content=body)

    def _cdn(self, request: httpx2.Request, path: str) -> httpx2.Response:
        parts = path.strip("/").split("/")
        repo = self.repos.get(f"{parts[0]}/{parts[1]}")
        weights = repo.files.get("/".join(parts[3:])) if repo else None
        if not isinstance(weights, WeightFile):
            return self._error(404, None, "Not Found")
        start, end = 0, weights.size - 1
        rng = request.headers.get("range")
        if rng and rng.startswith("bytes="):
            lo, _, hi = rng[len("bytes=") :].partition("-")
            start, end = int(lo), min(int(hi) if hi else end, weights.size - 1)
        status = 206 if rng else 200
        headers = {"Content-Range": f"bytes {start}-{end}/{weights.size}"} if rng else {}
        headers["Content-Length"] = str(end + 1 - start)
        if request.method == "HEAD":
            return httpx2.Response(status, headers=headers)
        return httpx2.Response(status, headers=headers, content=self._stream(weights, start, end))

    def _stream(self, weights: WeightFile, start: int, end: int) -> Iterator[bytes]:
        # Safetensors layout: 8-byte length, JSON header, then tensor data. Data is produced only when pulled.
        head = weights.header
        if start < 8:
            yield head[start:8]
        if start < len(head) and end >= 8:
            yield head[max(start, 8) : min(end + 1, len(head))]
        pos = max(start, len(head))
        while pos <= end:
            n = min(65_536, end + 1 - pos)
            self.weight_bytes += n
            yield b"\0" * n
            pos += n

    @contextmanager
    def installed(self) -> Iterator[FakeHub]:
        """Route huggingface_hub's shared client to this fake Hub for the duration of the block."""
        set_client_factory(
            lambda: httpx2.Client(transport=httpx2.MockTransport(self.handle), follow_redirects=True)
        )
        try:
            yield self
        finally:
            set_client_factory(default_client_factory)
            close_session()


def make_inspector(settings: Settings, *, token: str | None = None, **kwargs: object) -> HubInspector:
    """A HubInspector pointed at the fake Hub, optionally with an HF token in its settings."""
    if token is not None:
        settings = settings.model_copy(update={"hf_token": SecretStr(token)})
    return HubInspector(settings, api=HfApi(endpoint=ENDPOINT, token=False), **kwargs)  # type: ignore[arg-type]
