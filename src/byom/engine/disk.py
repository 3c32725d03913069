"""A write to the engine's data dir that the machine refused, as one clear error that names the place and the fix.

    OSError: ENOSPC, EDQUOT, EROFS (anywhere)          ─┐
             EACCES, EPERM, ENOTDIR, EISDIR, ENOENT     ├─► InsufficientStorage (507, not retried)
             (on a path under the data dir)             │
    sqlite3.Error: SQLITE_FULL, _READONLY, _IOERR,     ─┘
             _CANTOPEN (the engine's database)
    anything else                                       ──► None: the caller's last resort (a 500, a failed job)

Uploads (``uploads/``, ``blobs/``), the database and job dirs all fail this way when the disk is full or a
directory was made unwritable or replaced by a file. ``app.py`` maps both exception types here for every route;
the job runner uses it for a job it could not start.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from byom.errors import InsufficientStorage

__all__ = ["storage_error"]

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY_FS = frozenset({errno.EROFS})
# Only a path of the engine's own says "the data dir is unusable": elsewhere these are some other problem.
_UNUSABLE = frozenset({errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.ENOENT})
_SQLITE = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
)
_NO_RETRY = {"x-should-retry": "false"}  # a full or unwritable disk does not mend itself in seconds


def storage_error(exc: BaseException, data_dir: Path) -> InsufficientStorage | None:
    """The 507 for ``exc`` when it is a refused write to the disk or to ``data_dir``; ``None`` otherwise."""
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # absent on errors not from SQLite itself
        if code not in _SQLITE:
            return None
        return _error(f"its database in {data_dir} ({exc})", full=code == sqlite3.SQLITE_FULL)
    if not isinstance(exc, OSError) or exc.errno is None:
        return None
    named = exc.filename2 or exc.filename  # os.replace(tmp, target): the target's directory refused
    path = Path(named) if isinstance(named, (str, Path)) else None
    ours = path is not None and path.is_relative_to(data_dir)
    if exc.errno not in _FULL | _READ_ONLY_FS and not (exc.errno in _UNUSABLE and ours):
        return None
    where = path.parent if path is not None else data_dir
    return _error(f"to {where} ({exc.strerror or exc})", full=exc.errno in _FULL)


def _error(what: str, *, full: bool) -> InsufficientStorage:
    if full:
        fix = "Free disk space there (or restart the engine with --data-dir on a disk with room), then retry."
    else:
        fix = (
            "Make it a directory the user running the engine can write (remove a file in its place, fix its owner"
            " or mode, or remount it read-write), or restart the engine with another --data-dir; then retry."
        )
    return InsufficientStorage(
        f"The engine cannot write {what}. {fix}", code="insufficient_storage", headers=_NO_RETRY
    )
