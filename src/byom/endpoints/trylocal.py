"""A Together fine-tune tried on this machine: its weights downloaded once, cached, and served by the local engine.

    fetch_plan(together, local, job_id)
        the job (completed?) → what to download (its adapter; a full job's model) → does it fit this machine?
        (parameters from the job record, memory from the local engine's instance types: refused BEFORE any byte
        is downloaded, saying what would fit) → the archive's size (a 2-byte Range probe, as Together's CLI does)
    LocalWeights.start(plan) → a background download into the data dir (0700), unpacked under byom.contained's
        rule (no member with an absolute path or .., no link, nothing but files and folders) → the model
        directory, which the local engine serves on demand (no endpoint, no charge)

Nothing here creates anything billed: the download route reads a finished job's weights.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from pydantic import BaseModel

from byom.backend import Backend
from byom.contained import require_contained
from byom.errors import PreflightError, TogetherAPIError, UnsafeModelFile
from byom.hub import memory_estimate
from byom.storage import private_dir

__all__ = ["FetchPlan", "LocalWeights", "fetch_plan", "unpack"]

_GB = 1e9
_GIB = 1024**3
_CACHE = "together-weights"  # under the byom data dir: <job id>/<checkpoint>/<the archive's model folder>
_DONE = ".complete"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class FetchPlan(BaseModel):
    """What trying a Together job here takes: which weights, their size, and the memory they need."""

    job_id: str
    checkpoint: Literal["adapter", "merged", "model_output_path"]
    parameters: int | None
    need_gb: float | None
    have_gb: float
    download_bytes: int | None  # None: the server did not say
    cached: Path | None  # already downloaded: nothing to fetch

    @property
    def summary(self) -> str:
        size = "size unknown" if self.download_bytes is None else f"{self.download_bytes / _GB:.2f} GB"
        need = "" if self.need_gb is None else f", needs about {self.need_gb:.1f} GB of {self.have_gb:.0f} GB"
        where = "already downloaded" if self.cached is not None else f"download {size}"
        return f"Job {self.job_id}'s {self.checkpoint} weights ({where}{need}); served by the local engine, free."


async def fetch_plan(together: Backend, local: Backend, job_id: str, cache_root: Path) -> FetchPlan:
    """Check that ``job_id`` can be tried here; raise ``PreflightError`` (nothing downloaded) when it cannot."""
    job = await together.client.retrieve_finetune(job_id)
    if job.status != "completed":
        raise PreflightError(
            f"Job {job_id} is {job.status}; its weights can be downloaded once it has completed. "
            "Follow it with job_status."
        )
    checkpoint: Literal["adapter", "model_output_path"] = "adapter" if job.is_lora else "model_output_path"
    types = await local.client.list_instance_types()
    have_gb = max((t.gpu_memory_gib or 0.0 for t in types), default=0.0) * _GIB / _GB
    estimate = memory_estimate(job.param_count)
    need_gb = estimate.inference_gb if estimate is not None else None
    if need_gb is not None and need_gb > have_gb:
        largest = have_gb / (need_gb / (job.param_count or 1)) / 1e9
        raise PreflightError(
            f"Job {job_id}'s model ({(job.param_count or 0) / 1e9:.1f}B parameters) needs about {need_gb:.0f} GB to "
            f"serve; the largest memory on this machine is {have_gb:.0f} GB (models up to about {largest:.1f}B "
            "parameters fit). Nothing was downloaded. Try it on Together with deploy_endpoint instead (billed)."
        )
    cached = _cached(cache_root, job_id, checkpoint)
    size = None if cached is not None else await _archive_size(together, job_id, checkpoint)
    return FetchPlan(
        job_id=job_id,
        checkpoint=checkpoint,
        parameters=job.param_count,
        need_gb=need_gb,
        have_gb=round(have_gb, 1),
        download_bytes=size,
        cached=cached,
    )


async def _archive_size(together: Backend, job_id: str, checkpoint: str) -> int | None:
    # Together's CLI probes with a 2-byte Range and reads the total from Content-Range (ref 2026-11 §2.1).
    response = await together.client.request(
        "GET",
        "/v1/finetune/download",
        params={"ft_id": job_id, "checkpoint": checkpoint},
        headers={"Range": "bytes=0-1"},
    )
    total = response.headers.get("content-range", "").rpartition("/")[2]
    if total.isdigit():
        return int(total)
    length = response.headers.get("content-length", "")
    return int(length) if response.status_code == 200 and length.isdigit() else None


def _slot(cache_root: Path, job_id: str, checkpoint: str) -> Path:
    if not job_id.replace("-", "").replace("_", "").isalnum():
        raise PreflightError(f"{job_id[:80]!r} is not a fine-tune job id (ft-…). List jobs with list_jobs.")
    return cache_root / _CACHE / job_id / checkpoint


def _cached(cache_root: Path, job_id: str, checkpoint: str) -> Path | None:
    slot = _slot(cache_root, job_id, checkpoint)
    return _model_dir(slot) if (slot / _DONE).is_file() else None


def _model_dir(root: Path) -> Path:
    """The folder of an unpacked archive that holds the model (its top level, or the one folder in it)."""
    for candidate in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        if (candidate / "config.json").is_file() or (candidate / "adapter_config.json").is_file():
            return candidate
    raise TogetherAPIError(
        "The downloaded archive holds no config.json or adapter_config.json: it is not a model. "
        "Download it with Together's CLI and inspect it."
    )


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack a .tar.gz / .tar / .tar.zst into ``dest``: only plain files and folders, each inside ``dest``."""
    with archive.open("rb") as raw:
        zstd = raw.read(4) == _ZSTD_MAGIC
        raw.seek(0)
        if zstd:
            try:
                import zstandard  # type: ignore[import-not-found]
            except ImportError:
                raise TogetherAPIError(
                    "Together sent the weights as .tar.zst and the zstandard package is not installed. Install it "
                    "in the server's environment (pip install zstandard) and call again."
                ) from None
            with (
                zstandard.ZstdDecompressor().stream_reader(raw) as stream,
                tarfile.open(fileobj=stream, mode="r|") as tar,
            ):
                _extract(tar, dest)
        else:
            with tarfile.open(fileobj=raw, mode="r:*") as tar:
                _extract(tar, dest)
    try:
        require_contained(dest)
    except UnsafeModelFile as exc:
        raise TogetherAPIError(f"The downloaded archive is unsafe: {exc}") from None
    return _model_dir(dest)


def _extract(tar: tarfile.TarFile, dest: Path) -> None:
    for member in tar:
        problem = _member_problem(member)
        if problem is not None:
            raise TogetherAPIError(
                f"The downloaded archive is unsafe: member {member.name[:120]!r} is {problem}. Nothing of it "
                "was kept; download it with Together's CLI and inspect it."
            )
        tar.extract(member, dest, filter="data")  # the stdlib's own rule too: modes sane, nothing outside


def _member_problem(member: tarfile.TarInfo) -> str | None:
    if member.name.startswith(("/", "\\")) or ".." in Path(member.name).parts:
        return "an absolute or '..' path"
    if member.issym() or member.islnk():
        return "a link"
    if not (member.isfile() or member.isdir()):
        return "neither a file nor a folder"
    return None


Progress = Callable[[int, int | None], Awaitable[None]]


@dataclass
class _Fetch:
    plan: FetchPlan
    received: int = 0
    total: int | None = None
    path: Path | None = None
    error: BaseException | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


class LocalWeights:
    """Downloads that outlive one tool call (a model's weights take longer than a host waits): one per job."""

    def __init__(
        self, cache_root: Path, spawn: Callable[[Callable[[], Coroutine[Any, Any, None]]], object]
    ) -> None:
        self.cache_root = cache_root
        self._spawn = spawn  # starts a task that outlives the call (the server's task group)
        self._fetches: dict[tuple[str, str], _Fetch] = {}

    def start(self, together: Backend, plan: FetchPlan) -> _Fetch:
        """The download of ``plan``'s weights: the one running (or finished) already, or a new one."""
        key = (plan.job_id, plan.checkpoint)
        fetch = self._fetches.get(key)
        if fetch is not None and fetch.error is None:
            return fetch
        fetch = _Fetch(plan, total=plan.download_bytes)
        self._fetches[key] = fetch
        if plan.cached is not None:
            fetch.path = plan.cached
            fetch.done.set()
            return fetch
        self._spawn(lambda: self._run(together, fetch))
        return fetch

    async def _run(self, together: Backend, fetch: _Fetch) -> None:
        plan = fetch.plan
        slot = _slot(self.cache_root, plan.job_id, plan.checkpoint)
        private_dir(slot.parent)
        limit = int((plan.need_gb or plan.have_gb) * _GB) + 512 * 1024**2

        async def progress(received: int, total: int | None) -> None:
            fetch.received, fetch.total = received, total or fetch.total

        try:
            fetch.path = await self._download(together, plan, slot, limit, progress)
        except Exception as exc:  # noqa: BLE001 - reported to the next call, never lost in a task
            fetch.error = exc
        finally:
            fetch.done.set()

    async def _download(
        self, together: Backend, plan: FetchPlan, slot: Path, limit: int, progress: Progress
    ) -> Path:
        work = Path(tempfile.mkdtemp(prefix=".download-", dir=slot.parent))  # 0700, beside its final place
        try:
            archive = work / "weights.tar"
            with os.fdopen(os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as sink:
                await together.client.download_finetune(
                    plan.job_id, sink, checkpoint=plan.checkpoint, max_bytes=limit, progress=progress
                )
            unpacked = work / "unpacked"
            private_dir(unpacked)
            await anyio.to_thread.run_sync(unpack, archive, unpacked)
            archive.unlink()
            (unpacked / _DONE).write_text(plan.job_id)
            if slot.exists():
                shutil.rmtree(slot)
            os.replace(unpacked, slot)
            return _model_dir(slot)
        finally:
            shutil.rmtree(work, ignore_errors=True)
