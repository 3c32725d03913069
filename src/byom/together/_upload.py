"""The SDK 3.1.1 upload of a small file (ref together-api-2026-11 §1.2, §1.3), on the client's one request path.

    POST /v1/files  (form: purpose, file_name, file_type, checksum)  ──► 302 Location + X-Together-File-Id
                                                                    └─► 409 {file_id}: the same bytes exist
    PUT  <Location> (raw bytes in 1 MiB chunks, no API key)          ──► exactly 200
    POST /v1/files/{id}/preprocess                                   ──► FileObject (validation starts)

The ``Location`` and the file id come from the server and are checked as the SDK checks them before use.
Files over 5 GiB (the SDK's multipart route) are refused with the next step.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import anyio
import httpx2
from pydantic import ValidationError

from byom.errors import InvalidRequest, TogetherAPIError
from byom.together._error_body import ErrorBody
from byom.together._files import FileObject
from byom.together.errors import error_from_response

if TYPE_CHECKING:
    from byom.together._client import TogetherClient

__all__ = ["file_checksum"]

Progress = Callable[[int, int], Awaitable[None]]

CHUNK_BYTES = 1 << 20  # the SDK streams the PUT in 1 MiB chunks
FILE_TYPES = {".jsonl": "jsonl", ".parquet": "parquet", ".csv": "csv"}
PURPOSES = ("fine-tune", "calibration", "eval", "batch-api")
# Above this the SDK switches to /v1/files/multipart/* (ref §1.4), which byom does not speak.
SINGLE_PUT_MAX_BYTES = 5 * (1 << 30)
_FILE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


async def upload_file(
    client: TogetherClient, path: Path, *, purpose: str = "fine-tune", progress: Progress | None = None
) -> FileObject:
    """Upload ``path``; the file already stored when the server has the same bytes (409)."""
    file_type, size = _check_local(path, purpose)
    checksum = await anyio.to_thread.run_sync(file_checksum, path)
    form = {"purpose": purpose, "file_name": path.name, "file_type": file_type, "checksum": checksum}
    # Safe to repeat: a repeat leaves at most an empty upload slot behind (the SDK retries it too).
    response = await client.request(
        "POST", "/v1/files", files={k: (None, v) for k, v in form.items()}, retry=True, expect=(302, 409)
    )
    if response.status_code == 409:
        return await client.retrieve_file(_duplicate_of(response))
    location, file_id = _upload_target(response)

    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        async with await anyio.open_file(path, "rb") as fh:
            while chunk := await fh.read(CHUNK_BYTES):
                yield chunk
                sent += len(chunk)
                if progress is not None:
                    await progress(sent, size)

    try:
        put = await client.request(
            "PUT",
            location,
            content=chunks,
            headers={"Content-Length": str(size)},
            timeout=client.upload_timeout(),
            authorize=False,
            retry=False,
            unknown_hint=f"Upload {path.name} again: the same bytes are recognised by their checksum.",
        )
    except TogetherAPIError as exc:
        if exc.status_code is None:
            raise
        raise TogetherAPIError(
            f"Uploading the bytes of {path.name} failed: {exc} Start the upload again.",
            status_code=exc.status_code,
            code=exc.code,
            request_id=exc.request_id,
        ) from exc
    if put.status_code != 200:
        # The SDK accepts nothing else: a 201/204 means the server did not take the bytes the way it should.
        raise TogetherAPIError(
            f"Uploading the bytes of {path.name} answered {put.status_code}, not 200; the file may be incomplete. "
            "Start the upload again.",
            status_code=put.status_code,
        )
    # Starts validation; safe to repeat (the SDK retries it).
    return await client._call(
        FileObject, "POST", f"/v1/files/{quote(file_id, safe='')}/preprocess", retry=True
    )


def _check_local(path: Path, purpose: str) -> tuple[str, int]:
    """(file_type, size) of a file the SDK would upload; ``InvalidRequest`` saying what to fix otherwise."""
    if purpose not in PURPOSES:
        raise InvalidRequest(f"purpose={purpose!r} is not one of {', '.join(PURPOSES)}.", param="purpose")
    if not path.is_file():
        raise InvalidRequest(f"{path} is not a file: give the path of the dataset to upload.", param="path")
    file_type = FILE_TYPES.get(path.suffix.lower())
    if file_type is None:
        raise InvalidRequest(
            f"{path.name} has an unknown extension: Together takes .jsonl, .parquet and .csv files.",
            param="path",
        )
    size = path.stat().st_size
    if size == 0:
        raise InvalidRequest(f"{path.name} is empty: a dataset needs at least one example.", param="path")
    if size > SINGLE_PUT_MAX_BYTES:
        raise InvalidRequest(
            f"{path.name} is {size / (1 << 30):.1f} GiB; byom uploads files up to 5 GiB. Split it, or upload it "
            "with the together CLI (tg files upload), which has the multipart upload.",
            param="path",
        )
    return file_type, size


def file_checksum(path: Path) -> str:
    """The SHA-256 hex of a file's bytes: the checksum the upload announces, and what a plan is bound to."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _duplicate_of(response: httpx2.Response) -> str:
    """The ``file_id`` a 409 names (the file with the same bytes); anything else is the 409's error."""
    try:
        file_id = ErrorBody.model_validate(response.json()).file_id
    except (ValueError, ValidationError):
        file_id = None
    if not file_id or not _FILE_ID.match(file_id):
        raise error_from_response(response)
    return file_id


def _upload_target(response: httpx2.Response) -> tuple[str, str]:
    """(PUT URL, file id) from step 1's headers, checked as the SDK checks them (ref §1.2)."""
    location = response.headers.get("location")
    file_id = response.headers.get("x-together-file-id")
    if not location or not file_id:
        raise TogetherAPIError(
            f"POST /v1/files answered {response.status_code} without the Location and X-Together-File-Id headers "
            "of an upload. Check TOGETHER_BASE_URL points at Together's API or the local engine.",
            status_code=response.status_code,
        )
    url = urlsplit(location)
    if url.scheme not in ("http", "https") or not url.hostname or url.hostname == "metadata.google.internal":
        raise TogetherAPIError(
            "POST /v1/files answered an upload URL that is not an absolute http(s) URL; refusing to send the file "
            "there. Check TOGETHER_BASE_URL.",
            status_code=response.status_code,
        )
    if not _FILE_ID.match(file_id):
        raise TogetherAPIError(
            f"POST /v1/files answered an invalid file id {file_id[:80]!r}. Check TOGETHER_BASE_URL.",
            status_code=response.status_code,
        )
    return location, file_id
