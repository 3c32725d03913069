"""A create's data files: checked and hashed on this machine at plan time, uploaded only once confirmed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
from pydantic import BaseModel, Field, PrivateAttr

from byom.backend import Backend
from byom.confirmed import Progress
from byom.data import is_local_path, local_data_path
from byom.errors import PreflightError, TogetherAPIError
from byom.ledger import Ledger

if TYPE_CHECKING:
    from byom.together import FileObject, FinetuneRequest

__all__ = ["FILE_WAIT_S", "FilePlan", "file_plan", "upload", "with_ids"]

# How long the pre-flight waits for the backend to validate an uploaded file before it says "call again".
FILE_WAIT_S = 20.0


class FilePlan(BaseModel):
    """A training or validation file as the job will use it."""

    given: str = Field(description="What was passed: a local path or a file id.")
    file_id: str | None = Field(
        description="The backend's id; None: a local file uploaded only once the user confirms."
    )
    filename: str | None = None
    bytes: int | None = None
    rows: int | None = None
    dataset_format: str | None = None
    sha256: str | None = Field(None, description="A local file's content, which the plan is bound to.")
    uploaded: bool = Field(
        description="True: already on the backend (a file id, or these bytes uploaded by an earlier confirmed "
        "create); False: uploaded only once the user confirms."
    )
    processing_status: str | None = None
    _path: Path | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        """A local file's path on this machine (None for a file id)."""
        return self._path

    @property
    def planned_id(self) -> str:
        """What the planned request names: the file id, or a local file's content hash."""
        if self.sha256 is not None:
            return f"sha256:{self.sha256}"
        assert self.file_id is not None
        return self.file_id


async def file_plan(
    given: str, backend: Backend, ledger: Ledger, role: str, method: Literal["sft", "dpo"] | None
) -> FilePlan:
    """A local file checked and hashed on this machine (never uploaded here), or a file id's status; ``method``
    None: rows of either method."""
    from byom.data import check_file
    from byom.together import file_checksum

    if is_local_path(given):
        path = local_data_path(given, role)
        try:
            # method: DPO wants preference pairs and SFT cannot use them; the fixes say so.
            report = await anyio.to_thread.run_sync(lambda: check_file(path, method=method))
            sha256 = await anyio.to_thread.run_sync(file_checksum, path)
        except OSError as exc:
            raise PreflightError(
                f"The {role} file {path.name} cannot be read ({exc.strerror or exc}). Check its permissions."
            ) from None
        if not report.valid:
            raise PreflightError(
                f"The {role} file {path.name} is not valid training data: {report.error}. Fix it (check_training_data "
                "shows every problem), then call again. Nothing was uploaded."
            )
        # The same bytes uploaded by an earlier confirmed create: the backend can price them as they are.
        known = await _known_upload(backend, ledger, sha256)
        plan = FilePlan(
            given=given,
            file_id=known.id if known is not None else None,
            filename=path.name,
            bytes=path.stat().st_size,
            rows=report.nlines,
            dataset_format=report.dataset_format,
            sha256=sha256,
            uploaded=known is not None,
            processing_status=known.processing_status if known is not None else None,
        )
        plan._path = path
        return plan
    found = await backend.client.retrieve_file(given)
    ready = await _ready(backend, found, role)
    vr = ready.validation_report
    return FilePlan(
        given=given,
        file_id=ready.id,
        filename=ready.filename,
        bytes=ready.bytes,
        rows=vr.nlines if vr else None,
        dataset_format=vr.dataset_format if vr else None,
        uploaded=True,
        processing_status=ready.processing_status,
    )


async def _known_upload(backend: Backend, ledger: Ledger, sha256: str) -> FileObject | None:
    """The backend's file for these bytes, if a confirmed create uploaded them and the backend still has them
    ready; anything else (deleted, rejected, not answering) means: upload again once confirmed."""
    file_id = ledger.uploaded(backend.base_url, sha256)
    if file_id is None:
        return None
    try:
        found = await backend.client.retrieve_file(file_id)
    except TogetherAPIError:
        return None
    return found if found.is_ready else None


async def _ready(backend: Backend, file: FileObject, role: str) -> FileObject:
    if file.is_pending:
        file = await backend.client.wait_file(file.id, timeout=FILE_WAIT_S)
    if file.is_rejected:
        why = (
            file.validation_report.error
            if file.validation_report and file.validation_report.error
            else "no reason given"
        )
        raise PreflightError(
            f"{backend.label} rejected the {role} file {file.id} ({file.processing_status}): {why[:300]}. Fix the "
            "data (check_training_data) and pass the corrected local file."
        )
    if file.is_pending:
        raise PreflightError(
            f"The {role} file {file.id} is still being validated by {backend.label} ({file.processing_status}). "
            "Call create_finetune again in a minute with the file id."
        )
    return file


def with_ids(request: FinetuneRequest, training: FilePlan, validation: FilePlan | None) -> FinetuneRequest:
    """The planned request with the backend's file ids in place of local content hashes."""
    assert training.file_id is not None
    update: dict[str, Any] = {"training_file": training.file_id}
    if validation is not None:
        assert validation.file_id is not None
        update["validation_file"] = validation.file_id
    return request.model_copy(update=update)


async def upload(
    file: FilePlan, backend: Backend, ledger: Ledger, progress: Progress | None, role: str
) -> FilePlan:
    """The confirmed plan's file on the backend: a local one uploaded now, if its bytes are still the ones
    the plan was bound to."""
    if file.file_id is not None:
        return file
    from byom.together import file_checksum

    path = file._path
    assert path is not None and file.sha256 is not None
    try:
        now = await anyio.to_thread.run_sync(file_checksum, path)
    except OSError as exc:
        raise PreflightError(
            f"The {role} file {path.name} cannot be read ({exc.strerror or exc}). Nothing was uploaded or created."
        ) from None
    if now != file.sha256:
        raise PreflightError(
            f"The {role} file {path.name} changed after the plan was made, so it is not what was confirmed. Nothing "
            "was uploaded or created. Call create_finetune again (without confirm_token) for a plan of the file as "
            "it is now."
        )

    async def sent(done: int, total: int) -> None:
        if progress is not None:
            await progress(
                done, total, f"uploading {path.name}: {done / 2**20:.1f} of {total / 2**20:.1f} MiB"
            )

    ready = await _ready(backend, await backend.client.upload_file(path, progress=sent), role)
    ledger.record_upload(backend.base_url, now, ready.id)
    return file.model_copy(
        update={"file_id": ready.id, "uploaded": True, "processing_status": ready.processing_status}
    )
