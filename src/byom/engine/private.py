"""The data dir is the user's alone: directories 0700, files 0600, however and by whom they were made.

Training data, weights and the API key live under the data dir, so nothing in it may carry group or
other bits. The engine process runs with ``PRIVATE_UMASK`` (``service.serve``), the trainer subprocess
sets it first thing, and the few files the engine creates when embedded (tests, the MCP server) are
opened with explicit modes (``byom.storage``). ``make_private`` repairs a dir made by an older version.

``data_dir_problem`` is the one rule for what a data dir must be, the MCP server's and an engine's alike: the
engine refuses to start on what it finds (``check_data_dir``), ``byom doctor`` reports it.
"""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "ENGINE_ENTRIES",
    "PRIVATE_UMASK",
    "DirProblem",
    "check_data_dir",
    "data_dir_problem",
    "make_private",
]

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


class DirProblem(NamedTuple):
    detail: str  # what is wrong
    fix: str  # what to do next
    repairable: bool = False  # byom repairs it itself on the next start (``make_private``, ``private_dir``)


def data_dir_problem(path: Path, *, engine: bool) -> DirProblem | None:
    """The first thing that keeps ``path`` from being a byom data dir, or None.

    It must exist (or be creatable by this user), be a directory this user can read and write, be 0700 (it
    holds training data, weights and keys) and, for an ``engine`` data dir, hold nothing but the engine's
    entries: ``--data-dir ~/work`` must not make the engine chmod (or fill) the user's own folder.
    """
    where = shlex.quote(str(path))
    elsewhere = "set BYOM_DATA_DIR (or the engine's --data-dir) to a directory of yours"
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK | os.X_OK):
            return None  # created on first use
        return DirProblem(
            f"{path} does not exist and {parent} is not writable",
            f"Create it (mkdir -p {where} && chmod 700 {where}), or {elsewhere}.",
        )
    if not path.is_dir():
        return DirProblem(f"{path} is not a directory", f"Move it away, or {elsewhere}.")
    try:
        names = {entry.name for entry in os.scandir(path)}
    except OSError as exc:
        return DirProblem(
            f"Cannot read the data dir {path}: {exc.strerror}", f"Fix its mode, or {elsewhere}."
        )
    if not os.access(path, os.W_OK | os.X_OK):
        return DirProblem(
            f"{path} is not writable by this user", f"Fix its owner (chown -R $USER {where}), or {elsewhere}."
        )
    if engine and names and not names & set(ENGINE_ENTRIES):
        return DirProblem(
            f"{path} holds other files and is not an engine data dir",
            "Pass a new or empty directory as --data-dir (or BYOM_DATA_DIR), or leave it out for the default.",
        )
    if _POSIX:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            return DirProblem(
                f"{path} has mode {mode:04o}: other users can read training data, weights and keys",
                f"chmod -R go-rwx {where}",
                repairable=True,
            )
    return None


def check_data_dir(data_dir: Path) -> None:
    """Refuse to start the engine on a data dir it cannot use (``data_dir_problem``); open modes it repairs."""
    from byom.errors import ConfigError

    problem = data_dir_problem(data_dir, engine=True)
    if problem is not None and not problem.repairable:
        raise ConfigError(f"{problem.detail}. {problem.fix}")


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
