"""The data dir is the user's alone: 0700 dirs and 0600 files, however it was first made."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import httpx2
import pytest

from byom.config import load_settings
from byom.engine.service import ensure_engine_key
from byom.engine.state import EngineState
from support.engine import job_body, make_state, upload, wait_job

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def _shared(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that group or others may read, write or enter."""
    paths = [root, *root.rglob("*")]
    return [f"{p} {oct(p.lstat().st_mode & 0o777)}" for p in paths if p.lstat().st_mode & 0o077]


@pytest.fixture
def open_umask():
    """The umask most users have: 0o022 (files 0644, dirs 0755) unless the engine says otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.slow
@pytest.mark.anyio
async def test_nothing_in_the_data_dir_is_shared_after_a_job(
    open_umask: None,
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
    overfit_bytes: bytes,
) -> None:
    client, state = engine
    file = await upload(client, overfit_bytes)
    job = (await client.post("/v1/fine-tunes", json=job_body(file["id"], tiny_model))).json()
    done = await wait_job(client, job["id"])
    assert done["status"] == "completed", done
    job_dir = state.data_dir / "jobs" / job["id"]
    assert (job_dir / "trainer.log").is_file() and (job_dir / "progress.jsonl").is_file()
    assert any(p.is_dir() for p in job_dir.iterdir()), "no checkpoint or output dir to check"
    assert (state.data_dir / "engine.db-wal").exists()
    assert _shared(state.data_dir) == []


def test_the_key_file_first_makes_the_data_dir_private(open_umask: None, tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "engine"
    ensure_engine_key(data_dir)
    assert _shared(data_dir) == []


def test_a_data_dir_from_an_older_version_is_made_private_on_open(open_umask: None, tmp_path: Path) -> None:
    root = tmp_path / "engine"
    (root / "jobs" / "ft-old" / "checkpoint-1").mkdir(parents=True)
    (root / "jobs" / "ft-old" / "trainer.log").write_text("old log\n")
    (root / "jobs" / "ft-old" / "checkpoint-1" / "adapter.safetensors").write_bytes(b"weights")
    with sqlite3.connect(root / "engine.db") as db:  # made by sqlite with the open umask: 0644
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE old (x)")
    os.chmod(root, 0o755)
    assert _shared(root)
    state = make_state(tmp_path)
    try:
        assert state.data_dir == root.resolve()
        state.db.execute("SELECT 1")
        assert _shared(root) == []
    finally:
        state.close()


def test_a_folder_of_the_users_own_files_is_refused_as_a_data_dir(tmp_path: Path) -> None:
    from byom.engine.service import ensure_engine_key
    from byom.errors import ConfigError

    folder = tmp_path / "work"
    folder.mkdir(mode=0o755)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an engine data dir"):
        ensure_engine_key(folder)
    with pytest.raises(ConfigError, match="not an engine data dir"):
        EngineState.open(folder, api_key="k", base_url="http://127.0.0.1:1", settings=load_settings())
    assert not (folder / "api_key").exists() and not (folder / "engine.db").exists()
    if os.name == "posix":
        assert folder.stat().st_mode & 0o777 == 0o755  # untouched


def test_only_the_engines_own_entries_are_made_private(tmp_path: Path) -> None:
    from byom.engine.private import make_private

    data_dir = tmp_path / "engine"
    (data_dir / "jobs" / "ft-1").mkdir(parents=True)
    (data_dir / "jobs" / "ft-1" / "trainer.log").write_text("x")
    (data_dir / "jobs" / "ft-1" / "trainer.log").chmod(0o644)
    (data_dir / "README.txt").write_text("the user put this here")
    (data_dir / "README.txt").chmod(0o644)
    make_private(data_dir)
    if os.name == "posix":
        assert (data_dir / "jobs" / "ft-1" / "trainer.log").stat().st_mode & 0o077 == 0
        assert (data_dir / "README.txt").stat().st_mode & 0o777 == 0o644


def test_a_file_where_the_data_dir_should_be_is_refused_with_what_to_do(tmp_path: Path) -> None:
    """The engine's rule is doctor's too (``data_dir_problem``): a file in the way was a FileExistsError."""
    from byom.errors import ConfigError

    path = tmp_path / "engine"
    path.write_text("not a directory")
    with pytest.raises(ConfigError, match="is not a directory. Move it away"):
        ensure_engine_key(path)
