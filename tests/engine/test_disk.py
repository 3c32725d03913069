"""disk.py: a data dir the engine cannot write (a directory replaced by a file, a full database) is a 507 that names
the place and the fix, on every route that stores something, never a bare 500; and a job whose dir cannot be made
fails with the same words. The tests run as root, whom no mode stops: the directory is replaced by a file, and the
database is filled with SQLite's own page cap."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest

from byom.engine.disk import storage_error
from byom.engine.state import EngineState
from support.engine import assert_together_error, job_body, upload, wait_job

pytestmark = pytest.mark.anyio

DATA = b'{"text": "hello"}\n' * 4


def _replace_with_a_file(directory: Path) -> None:
    shutil.rmtree(directory)
    directory.write_text("not a directory\n")


def _restore(directory: Path) -> None:
    directory.unlink()
    directory.mkdir(mode=0o700)


async def _put(client: httpx2.AsyncClient, data: bytes) -> httpx2.Response:
    """The SDK's upload up to its PUT of the bytes (the 302 step writes only a row)."""
    form = {"purpose": "fine-tune", "file_name": "t.jsonl", "file_type": "jsonl"}
    created = await client.post("/v1/files", files={k: (None, v) for k, v in form.items()})
    assert created.status_code == 302, created.text
    return await client.put(created.headers["location"], content=data, headers={"Authorization": ""})


async def _multipart(client: httpx2.AsyncClient, data: bytes) -> httpx2.Response:
    return await client.post(
        "/v1/files/upload", files={"file": ("t.jsonl", data)}, data={"purpose": "fine-tune"}
    )


def _assert_names(response: httpx2.Response, directory: Path) -> None:
    error = assert_together_error(response, 507)["error"]
    assert error["code"] == "insufficient_storage" and response.headers["x-should-retry"] == "false"
    assert f"cannot write to {directory} (Not a directory)" in error["message"], error
    assert "Make it a directory the user running the engine can write" in error["message"]


@pytest.mark.parametrize("sub", ["uploads", "blobs"])
async def test_an_upload_into_a_directory_the_engine_cannot_write_is_a_507_naming_it(
    engine: tuple[httpx2.AsyncClient, EngineState], sub: str
) -> None:
    client, state = engine
    _replace_with_a_file(state.data_dir / sub)
    for n, send in enumerate((_put, _multipart)):
        _assert_names(await send(client, DATA + b"\n" * n), state.data_dir / sub)
    # Nothing half-stored: no temp file of either upload, no blob, no file listed.
    if sub == "blobs":
        assert list((state.data_dir / "uploads").iterdir()) == []
    assert (await client.get("/v1/files")).json()["data"] == []
    # Once the directory is back, the same engine stores uploads again.
    _restore(state.data_dir / sub)
    assert (await _put(client, DATA)).status_code == 200
    assert (state.data_dir / "blobs" / hashlib.sha256(DATA).hexdigest()).is_file()


async def test_a_full_database_is_a_507_naming_the_data_dir(
    engine: tuple[httpx2.AsyncClient, EngineState],
) -> None:
    client, state = engine
    pages = state.db.one("PRAGMA page_count")[0]
    state.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite answers SQLITE_FULL past this size
    form = {"purpose": "fine-tune", "file_name": "t.jsonl", "file_type": "jsonl"}
    for _ in range(200):  # the first pages still have room for a few rows
        response = await client.post("/v1/files", files={k: (None, v) for k, v in form.items()})
        if response.status_code != 302:
            break
    error = assert_together_error(response, 507)["error"]
    assert f"cannot write its database in {state.data_dir} (database or disk is full)" in error["message"]
    assert "Free disk space there" in error["message"]


async def test_a_job_whose_dir_cannot_be_made_fails_naming_the_directory(
    engine: tuple[httpx2.AsyncClient, EngineState], tiny_model: Path, overfit_bytes: bytes
) -> None:
    client, state = engine
    training = await upload(client, overfit_bytes)
    _replace_with_a_file(state.data_dir / "jobs")
    created = await client.post("/v1/fine-tunes", json=job_body(training["id"], tiny_model))
    assert created.status_code == 200, created.text
    job = await wait_job(client, created.json()["id"])
    assert job["status"] == "error"
    message = job["error"]["message"]
    assert f"cannot write to {state.data_dir / 'jobs'} (Not a directory)" in message, job
    assert "Make it a directory" in message


def _raised_by(action: Callable[[], object]) -> OSError:
    with pytest.raises(OSError) as info:
        action()
    return info.value


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_full_disk_names_the_place_and_says_to_free_space(tmp_path: Path) -> None:
    def write_to_a_full_disk() -> None:
        with open("/dev/full", "wb") as full:  # every write: ENOSPC, as on a full disk
            full.write(b"x")

    err = storage_error(_raised_by(write_to_a_full_disk), tmp_path)
    assert err is not None and err.status_code == 507
    assert f"cannot write to {tmp_path} (No space left on device)" in err.message
    assert "Free disk space there" in err.message


def test_an_os_error_outside_the_data_dir_is_not_called_a_storage_problem(tmp_path: Path) -> None:
    missing = _raised_by(lambda: (tmp_path / "elsewhere" / "model.json").read_text())
    assert storage_error(missing, tmp_path / "engine") is None
    assert storage_error(ValueError("not an OSError"), tmp_path) is None


def test_a_database_error_that_is_not_about_storage_stays_unexpected(tmp_path: Path) -> None:
    closed = sqlite3.connect(":memory:")
    closed.close()
    with pytest.raises(sqlite3.Error) as info:
        closed.execute("SELECT 1")
    assert storage_error(info.value, tmp_path) is None
