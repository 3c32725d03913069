"""Where a local model folder's files came from, when the folder says: what to fetch a good copy from.

Two layouts record it (huggingface_hub 1.x): the cache, ``models--{org}--{name}/snapshots/{commit}/{file}`` with
each LFS file a link to ``blobs/{sha256}``; and ``hf download --local-dir``, which writes
``.cache/huggingface/download/{file}.metadata`` (three lines: commit, etag, timestamp; an LFS file's etag is its
sha256). Any other folder names no source.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Provenance", "provenance"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MAX_METADATA_BYTES = 4096


@dataclass(frozen=True)
class Provenance:
    repo: str | None = None
    revision: str | None = None
    sha256: str | None = None


def provenance(root: Path, name: str) -> Provenance:
    """The Hub repo, commit and sha256 of ``root/name`` as the folder's layout records them (all None if not)."""
    repo_dir = root.parent.parent
    if root.parent.name == "snapshots" and repo_dir.name.startswith("models--"):
        repo = repo_dir.name.removeprefix("models--").replace("--", "/")
        try:
            blob = os.path.basename(os.readlink(root / name))
        except OSError:
            blob = ""
        return Provenance(repo, root.name, blob if _SHA256.match(blob) else None)
    meta = root / ".cache" / "huggingface" / "download" / f"{name}.metadata"
    try:
        with meta.open("rb") as fh:
            lines = fh.read(_MAX_METADATA_BYTES).decode("utf-8", errors="replace").splitlines()
    except OSError:
        return Provenance()
    commit = lines[0].strip() if lines else ""
    etag = lines[1].strip().strip('"') if len(lines) > 1 else ""
    return Provenance(None, commit or None, etag if _SHA256.match(etag) else None)
