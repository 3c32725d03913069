"""The data dir is the user's alone: directories 0700, files 0600, however and by whom they were made.

Training data, weights and the API key live under the data dir, so nothing in it may carry group or
other bits. The engine process runs with ``PRIVATE_UMASK`` (``service.serve``), the trainer subprocess
sets it first thing, and the few files the engine creates when embedded (tests, the MCP server) are
opened with explicit modes here. ``make_private`` repairs a dir made by an older version.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "make_private", "open_private", "private_dir"]

PRIVATE_UMASK = 0o077
_POSIX = os.name == "posix"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by this user only, whatever the umask."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if _POSIX:
        path.chmod(0o700)
    return path


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """``os.open`` a file created 0600 (an existing one loses any group/other bits); returns the fd."""
    fd = os.open(path, flags, 0o600)
    if _POSIX:
        os.fchmod(fd, os.fstat(fd).st_mode & 0o700)
    return fd


def make_private(root: Path) -> None:
    """Strip group/other bits from ``root`` and everything under it (symlinks are not followed)."""
    if not _POSIX:
        return
    _strip(root)
    for parent, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            _strip(Path(parent, name))


def _strip(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:  # removed meanwhile (a finished temp file)
        return
    if stat.S_ISLNK(mode) or not mode & 0o077:
        return
    os.chmod(path, mode & 0o700)
