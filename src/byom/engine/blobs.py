"""The content-addressed blob store for uploaded files.

Blobs live at ``<data_dir>/blobs/<sha256>``; a file row points at its blob by digest, so
the same bytes uploaded twice are stored once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["UPLOAD_TMP_PREFIX", "BlobWriter", "blob_path", "sha256_file"]

# Temp files of uploads in progress: ``<data_dir>/uploads/up-*``, removed at start when a kill left them.
UPLOAD_TMP_PREFIX = "up-"


def blob_path(data_dir: Path, sha256: str) -> Path:
    return data_dir / "blobs" / sha256


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class BlobWriter:
    """Stream bytes into a temp file, hashing and counting; ``commit`` moves it to its digest's path."""

    def __init__(self, data_dir: Path, max_bytes: int) -> None:
        self.data_dir = data_dir
        self.max_bytes = max_bytes
        self.size = 0
        self._digest = hashlib.sha256()
        fd, name = tempfile.mkstemp(dir=data_dir / "uploads", prefix=UPLOAD_TMP_PREFIX)
        self._fh = os.fdopen(fd, "wb")
        self._tmp = Path(name)

    def write(self, chunk: bytes) -> bool:
        """Append a chunk; False once the size cap is passed (the caller answers 413)."""
        self.size += len(chunk)
        if self.size > self.max_bytes:
            return False
        self._digest.update(chunk)
        self._fh.write(chunk)
        return True

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def commit(self) -> Path:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        target = blob_path(self.data_dir, self.sha256)
        if target.exists():
            self._tmp.unlink()
        else:
            os.replace(self._tmp, target)
        return target

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self._tmp.unlink(missing_ok=True)
