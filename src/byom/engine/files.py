"""Files API: the SDK's three-step upload, the spec's one-step upload, and file reads/deletes.

The SDK flow (ref together-api-2026-11 §1.2, §1.7): ``POST /v1/files`` (form, no file) → 302 to a
one-time absolute upload URL → ``PUT`` the bytes (no auth, exactly 200) → ``POST .../preprocess``.
Validation (``byom.data.check_file``) runs in a background thread; ``processing_status`` goes
PENDING → COMPLETED | INVALID_FORMAT | FAILED.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse as StarletteFileResponse
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from byom.engine.blobs import BlobWriter, blob_path
from byom.engine.db import new_id
from byom.engine.finetunes.bodies import Deleted
from byom.engine.finetunes.jobs import ACTIVE
from byom.engine.http import answer, omitted
from byom.engine.state import EngineState, engine_of
from byom.errors import Conflict, InvalidRequest, NotFound, PayloadTooLarge, PermissionDenied

__all__ = [
    "FileList",
    "FileObject",
    "file_blob",
    "file_payload",
    "get_file_row",
    "resume_pending_validation",
    "routes",
]

log = logging.getLogger("byom.engine")

PURPOSES = ("fine-tune", "calibration", "eval", "batch-api")
FILE_TYPES = ("jsonl", "parquet", "csv")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# What a form may carry besides the file's bytes: its fields, part headers and boundaries.
_FORM_OVERHEAD = 64 * 1024


class FileObject(BaseModel):
    """``FileResponse`` (SDK 3.1.1 fields, plus the April spec's ``Processed`` and ``LineCount`` for older clients)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    object: Literal["file"] = "file"
    created_at: int
    filename: str
    bytes: int
    purpose: str
    FileType: str
    Processed: bool
    processing_status: str
    validation_report: dict[str, Any] | None = omitted()
    LineCount: int | None = omitted()


class FileList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object: Literal["list"] = "list"
    data: list[FileObject]


def file_payload(row: Any) -> FileObject:
    """A file row as the API shows it."""
    status = row["processing_status"]
    report = json.loads(row["validation_report"]) if row["validation_report"] else None
    return FileObject(
        id=row["id"],
        created_at=int(row["created_at"]),
        filename=row["filename"],
        bytes=row["bytes"],
        purpose=row["purpose"],
        FileType=row["file_type"],
        Processed=status == "COMPLETED",
        processing_status=status or "PENDING",
        validation_report=report,
        LineCount=report.get("nlines") if report else None,
    )


def get_file_row(state: EngineState, file_id: str) -> Any:
    """The file row for ``file_id``; 404 Together-shaped when unknown."""
    row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
    if row is None:
        raise NotFound(f"File '{file_id}' not found. List your files with GET /v1/files.", param="id")
    return row


def file_blob(state: EngineState, row: Any) -> Path | None:
    """Where a file's bytes are, once uploaded."""
    return blob_path(state.data_dir, row["sha256"]) if row["sha256"] else None


def _purpose(value: str | None) -> str:
    purpose = (value or "fine-tune").strip()
    if purpose not in PURPOSES:
        raise InvalidRequest(
            f"Invalid purpose '{purpose}'. Use one of: {', '.join(PURPOSES)}.", param="purpose"
        )
    return purpose


def _file_type(value: str | None, filename: str) -> str:
    file_type = (value or Path(filename).suffix.lstrip(".") or "jsonl").strip().lower()
    if file_type not in FILE_TYPES:
        raise InvalidRequest(
            f"Invalid file_type '{file_type}'. Use one of: {', '.join(FILE_TYPES)}.", param="file_type"
        )
    return file_type


def _filename(value: str | None) -> str:
    name = Path((value or "").strip()).name
    if not name:
        raise InvalidRequest(
            "Field 'file_name' is required: the base name of the file, e.g. train.jsonl.",
            param="file_name",
        )
    return name[:255]


def _duplicate(state: EngineState, sha256: str) -> Any:
    return state.db.one("SELECT * FROM files WHERE sha256 = ? ORDER BY created_at, rowid LIMIT 1", (sha256,))


async def create_upload(request: Request) -> Response:
    """Step 1 of the SDK upload: register the file and answer 302 with a one-time PUT URL."""
    state = engine_of(request)
    form = await _form(request, _FORM_OVERHEAD, _fields_too_large)
    purpose = _purpose(_field(form, "purpose"))
    filename = _filename(_field(form, "file_name"))
    file_type = _file_type(_field(form, "file_type"), filename)
    checksum = (_field(form, "checksum") or "").strip().lower() or None
    if checksum is not None and not _SHA256.match(checksum):
        raise InvalidRequest("Field 'checksum' must be the SHA-256 hex digest of the file.", param="checksum")
    if checksum is not None:
        existing = _duplicate(state, checksum)
        if existing is not None:
            # The SDK reads a top-level file_id and, told not to retry, fetches that file (§1.3).
            raise Conflict(
                f"File already exists: {existing['id']}. Reuse it instead of uploading again.",
                code="file_already_exists",
                headers={"x-should-retry": "false"},
                extra={"file_id": existing["id"]},
            )
    file_id = new_id("file")
    token = secrets.token_urlsafe(32)
    state.db.execute(
        "INSERT INTO files (id, filename, purpose, file_type, checksum, created_at, upload_token_hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (file_id, filename, purpose, file_type, checksum, int(time.time()), _hash(token)),
    )
    location = f"{state.base_url}/v1/files/{file_id}/upload?token={token}"
    return Response(status_code=302, headers={"Location": location, "X-Together-File-Id": file_id})


async def put_upload(request: Request) -> Response:
    """Step 2: receive the bytes (no auth: the one-time token authorises), verify the checksum."""
    state = engine_of(request)
    file_id = request.path_params["file_id"]
    token = request.query_params.get("token", "")
    row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
    if (
        row is None
        or not row["upload_token_hash"]
        or not secrets.compare_digest(row["upload_token_hash"], _hash(token))
    ):
        # Same answer for unknown id, used token and wrong token: the URL is simply not valid.
        raise PermissionDenied(
            "This upload URL is not valid (unknown, already used or wrong token). Start the upload again.",
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > state.config.max_upload_bytes:
        raise PayloadTooLarge(_too_large(state))
    writer = BlobWriter(state.data_dir, state.config.max_upload_bytes)
    try:
        async for chunk in request.stream():
            if not writer.write(chunk):
                raise PayloadTooLarge(_too_large(state))
        if row["checksum"] and writer.sha256 != row["checksum"]:
            raise InvalidRequest(
                "Uploaded bytes do not match the announced SHA-256 checksum. The file changed or the transfer broke;"
                " upload it again.",
                param="checksum",
            )
        if writer.size == 0:
            raise InvalidRequest("The upload is empty. Send the file's bytes.")
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    # The token is spent by the one PUT that finishes first (compare-and-set): a second PUT on the same URL,
    # racing this one, must not overwrite what the first stored.
    claimed = state.db.execute(
        "UPDATE files SET sha256 = ?, bytes = ?, upload_token_hash = NULL WHERE id = ? AND upload_token_hash = ?",
        (writer.sha256, writer.size, file_id, row["upload_token_hash"]),
    ).rowcount
    if not claimed:
        if state.db.one("SELECT 1 FROM files WHERE sha256 = ?", (writer.sha256,)) is None:
            blob_path(state.data_dir, writer.sha256).unlink(missing_ok=True)
        raise PermissionDenied(
            "This upload URL was used by another upload meanwhile. Start the upload again."
        )
    return Response(status_code=200)


async def preprocess(request: Request) -> JSONResponse:
    """Step 3: start validation of an uploaded file; answer its ``FileResponse``."""
    state = engine_of(request)
    row = get_file_row(state, request.path_params["file_id"])
    if not row["sha256"]:
        raise InvalidRequest(f"File '{row['id']}' has no content yet. PUT its bytes to the upload URL first.")
    started = state.db.execute(
        "UPDATE files SET processing_status = 'PENDING' WHERE id = ? AND processing_status IS NULL",
        (row["id"],),
    ).rowcount
    if started:  # only the first preprocess starts the validation
        _start_validation(state, row["id"])
    return answer(file_payload(get_file_row(state, row["id"])))


async def upload_multipart(request: Request) -> JSONResponse:
    """The April spec's one-step upload: multipart with the ``file`` part. Same bytes → the existing file."""
    state = engine_of(request)
    declared = request.headers.get("content-length")
    limit = state.config.max_upload_bytes + _FORM_OVERHEAD
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(state))
    form = await _form(request, limit, lambda: _too_large(state))
    try:
        stored = await _store_file_part(state, form)
    finally:
        await form.close()  # the spooled temp file of the part
    if isinstance(stored, FileObject):
        return answer(stored)
    filename, purpose, file_type, writer = stored
    file_id = new_id("file")
    state.db.execute(
        "INSERT INTO files (id, filename, purpose, file_type, checksum, sha256, bytes, created_at, processing_status)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PENDING')",
        (file_id, filename, purpose, file_type, writer.sha256, writer.sha256, writer.size, int(time.time())),
    )
    _start_validation(state, file_id)
    return answer(file_payload(get_file_row(state, file_id)))


async def _store_file_part(state: EngineState, form: Any) -> Any:
    """Store the form's file part as a blob: (filename, purpose, type, writer), or the known file's payload."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("Multipart field 'file' (the file's bytes) is required.", param="file")
    purpose = _purpose(_field(form, "purpose"))
    filename = _filename(_field(form, "file_name") or upload.filename)
    file_type = _file_type(_field(form, "file_type"), filename)
    writer = BlobWriter(state.data_dir, state.config.max_upload_bytes)
    try:
        while chunk := await upload.read(1 << 20):
            if not writer.write(chunk):
                raise PayloadTooLarge(_too_large(state))
        if writer.size == 0:
            raise InvalidRequest("The uploaded file is empty. Add at least one example.", param="file")
        existing = _duplicate(state, writer.sha256)
        if existing is not None:
            writer.discard()
            return file_payload(existing)
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    return filename, purpose, file_type, writer


async def list_files(request: Request) -> JSONResponse:
    state = engine_of(request)
    rows = state.db.query("SELECT * FROM files WHERE sha256 IS NOT NULL ORDER BY created_at DESC, rowid DESC")
    return answer(FileList(data=[file_payload(r) for r in rows]))


async def retrieve_file(request: Request) -> JSONResponse:
    return answer(file_payload(get_file_row(engine_of(request), request.path_params["file_id"])))


async def file_content(request: Request) -> Response:
    state = engine_of(request)
    row = get_file_row(state, request.path_params["file_id"])
    path = file_blob(state, row)
    if path is None or not path.is_file():
        raise NotFound(f"File '{row['id']}' has no content (its upload never finished). Upload it again.")
    # The spec serves file content as text/plain; parquet is binary.
    media_type = "application/octet-stream" if row["file_type"] == "parquet" else "text/plain"
    return StarletteFileResponse(path, media_type=media_type, filename=row["filename"])


async def delete_file(request: Request) -> JSONResponse:
    state = engine_of(request)
    row = get_file_row(state, request.path_params["file_id"])
    placeholders = ",".join("?" for _ in ACTIVE)
    using = state.db.one(
        f"SELECT id FROM jobs WHERE status IN ({placeholders}) AND (training_file = ? OR validation_file = ?) LIMIT 1",
        (*ACTIVE, row["id"], row["id"]),
    )
    if using is not None:
        raise Conflict(
            f"File '{row['id']}' is used by fine-tune job {using['id']}, which has not finished. Cancel the job or"
            " wait for it, then delete the file.",
            headers={"x-should-retry": "false"},
        )
    with state.db.transaction() as conn:
        conn.execute("DELETE FROM files WHERE id = ?", (row["id"],))
        others = conn.execute("SELECT 1 FROM files WHERE sha256 = ? LIMIT 1", (row["sha256"],)).fetchone()
    if row["sha256"] and others is None:
        blob_path(state.data_dir, row["sha256"]).unlink(missing_ok=True)
    return answer(Deleted(id=row["id"], object="file", deleted=True))


def resume_pending_validation(state: EngineState) -> None:
    """After a restart, validate again any file whose validation never finished."""
    for row in state.db.query(
        "SELECT id FROM files WHERE processing_status = 'PENDING' AND sha256 IS NOT NULL"
    ):
        _start_validation(state, row["id"])


def _start_validation(state: EngineState, file_id: str) -> None:
    threading.Thread(target=_validate, args=(state, file_id), name=f"validate-{file_id}", daemon=True).start()


def _validate(state: EngineState, file_id: str) -> None:
    row = state.db.one("SELECT * FROM files WHERE id = ?", (file_id,))
    if row is None or not row["sha256"]:
        return
    try:
        status, report = _run_checks(state, row)
    except Exception:
        log.exception("validation of %s failed", file_id)
        status, report = "FAILED", {"valid": False, "error": "Validation crashed in the engine; see its log."}
    report["file_id"] = file_id
    try:
        state.db.execute(
            "UPDATE files SET processing_status = ?, validation_report = ? WHERE id = ?",
            (status, json.dumps(report), file_id),
        )
    except sqlite3.Error:  # the DB closed under us (engine stopping): the restart revalidates
        log.warning("could not record validation of %s", file_id)


def _run_checks(state: EngineState, row: Any) -> tuple[str, dict[str, Any]]:
    path = blob_path(state.data_dir, row["sha256"])
    if row["purpose"] not in ("fine-tune", "eval"):
        # Purposes that need no validation skip it (ref together-api-2026-11 §1.6).
        return "COMPLETED", {"valid": True}
    if row["file_type"] != "jsonl":
        message = (
            f"The local engine trains from JSONL only; this file is {row['file_type']}. Convert it to JSONL."
        )
        return "INVALID_FORMAT", {"valid": False, "error": message, "error_type": "INVALID_FORMAT"}
    from byom.data import check_file

    report = check_file(path, purpose=row["purpose"]).to_together()
    return ("COMPLETED" if report.get("valid") else "INVALID_FORMAT"), report


async def _form(request: Request, max_bytes: int, too_large: Callable[[], str]) -> FormData:
    """Parse the form as the body streams in, stopping with a 413 once it passes ``max_bytes``: a chunked
    body has no Content-Length to refuse up front, and the parser would otherwise spool all of it."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise InvalidRequest(
            "Send the fields as multipart/form-data (purpose, file_name, file_type, checksum)."
        )
    stream = _capped(request.stream(), max_bytes, too_large)
    try:
        if content_type.startswith("multipart/form-data"):
            return await MultiPartParser(request.headers, stream, max_files=1, max_fields=32).parse()
        return await FormParser(request.headers, stream).parse()
    except (HTTPException, MultiPartException, ValueError) as exc:  # python-multipart errors are ValueErrors
        raise InvalidRequest(
            f"Could not parse the multipart form: {str(getattr(exc, 'detail', exc))[:200]}. Send a well-formed form.",
        ) from None


async def _capped(
    chunks: AsyncIterator[bytes], max_bytes: int, too_large: Callable[[], str]
) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in chunks:
        seen += len(chunk)
        if seen > max_bytes:
            raise PayloadTooLarge(too_large())
        yield chunk


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _fields_too_large() -> str:
    return (
        f"This form carries only fields (purpose, file_name, file_type, checksum); it is over"
        f" {_FORM_OVERHEAD // 1024} KiB. PUT the file's bytes to the upload URL instead."
    )


def _too_large(state: EngineState) -> str:
    return (
        f"File is larger than this engine accepts ({state.config.max_upload_bytes / 2**30:.2f} GiB). Split it into"
        " smaller files."
    )


async def multipart_initiate(request: Request) -> JSONResponse:
    """The SDK's flow for files over 5 GiB: refused with the reason (the SDK shows this text)."""
    state = engine_of(request)
    raise PayloadTooLarge(_too_large(state) + " (The local engine has no multipart upload.)")


routes = [
    Route("/v1/files/multipart/initiate", multipart_initiate, methods=["POST"]),
    Route("/v1/files", create_upload, methods=["POST"]),
    Route("/v1/files", list_files, methods=["GET"]),
    Route("/v1/files/upload", upload_multipart, methods=["POST"]),
    Route("/v1/files/{file_id}/upload", put_upload, methods=["PUT"]),
    Route("/v1/files/{file_id}/preprocess", preprocess, methods=["POST"]),
    Route("/v1/files/{file_id}/content", file_content, methods=["GET"]),
    Route("/v1/files/{file_id}", retrieve_file, methods=["GET"]),
    Route("/v1/files/{file_id}", delete_file, methods=["DELETE"]),
]
