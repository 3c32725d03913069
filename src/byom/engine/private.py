"""The data dir is the user's alone: directories 0700, files 0600, however and by whom they were made.

Training data, weights and the API key live under the data dir, so nothing in it may carry group or
other bits. The engine process runs with ``PRIVATE_UMASK`` (``service.serve``), the trainer subprocess
sets it first thing, and the few files the engine creates when embedded (tests, the MCP server) are
opened with explicit modes (``byom.storage``). ``make_private`` repairs a dir made by an older version.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["ENGINE_ENTRIES", "PRIVATE_UMASK", "check_data_dir", "make_private"]

PRIVATE_UMASK = 0o077
_POSIX = os.name == "posix"


# What the engine keeps in its data dir; nothing else there is the engine's to touch.
ENGINE_ENTRIES = (
    "api_key",
    "engine.db",
    "engine.db-wal",
    "engine.db-shm",
    "engine.lock",
    "engine.pid",
    "blobs",
    "jobs",
    "uploads",
    "exports",
)


def check_data_dir(data_dir: Path) -> None:
    """Refuse a directory that holds files but none of the engine's: ``--data-dir ~/work`` must not make the
    engine chmod (or fill) the user's own folder."""
    from byom.errors import ConfigError

    try:
        names = {entry.name for entry in os.scandir(data_dir)} if data_dir.is_dir() else set()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the engine's data dir {data_dir}: {exc.strerror}. Pass another --data-dir."
        ) from None
    if names and not names & set(ENGINE_ENTRIES):
        raise ConfigError(
            f"{data_dir} holds other files and is not an engine data dir. Pass a new or empty directory as "
            "--data-dir (or BYOM_DATA_DIR), or leave it out for the default."
        )


def make_private(root: Path) -> None:
    """Strip group/other bits from the data dir and the engine's own entries in it (symlinks are not followed)."""
    if not _POSIX:
        return
    _strip(root)
    for name in ENGINE_ENTRIES:
        top = root / name
        if not top.exists() or top.is_symlink():
            continue
        _strip(top)
        for parent, dirs, files in os.walk(top):
            for child in (*dirs, *files):
                _strip(Path(parent, child))


def _strip(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:  # removed meanwhile (a finished temp file)
        return
    if stat.S_ISLNK(mode) or not mode & 0o077:
        return
    os.chmod(path, mode & 0o700)
