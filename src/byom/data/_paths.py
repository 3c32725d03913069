"""Which local paths may be read as training data: the policy every tool that reads a user's file goes through."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from byom.errors import PreflightError

__all__ = ["data_file_type", "is_local_path", "local_data_path"]

_DATA_SUFFIXES = (".jsonl", ".parquet", ".csv")


def data_file_type(path: Path) -> Literal["jsonl", "parquet", "csv"]:
    """How a data file is read, by its extension: Parquet, CSV (evaluation data only), else JSONL."""
    suffix = path.suffix.lower()
    return "parquet" if suffix == ".parquet" else "csv" if suffix == ".csv" else "jsonl"


def is_local_path(value: str) -> bool:
    """Whether ``value`` names a local file (else it is a backend's file id)."""
    return value.lower().endswith(_DATA_SUFFIXES) or os.sep in value or "/" in value or _exists(value)


def _exists(value: str) -> bool:
    # A name no file system can hold (over NAME_MAX: ENAMETOOLONG) is no local file; it is looked up as a file id.
    try:
        return Path(value).exists()
    except (OSError, ValueError):
        return False


def local_data_path(given: str, role: str) -> Path:
    """A local training file, resolved (symlinks followed) and refused when it cannot be training data.

    Only ``.jsonl``/``.parquet`` files outside hidden directories are read: a prompt-injected request to
    "upload ~/.aws/credentials" or "~/.ssh/id_rsa" fails here, before anything is read or sent.
    """
    if "\0" in given:
        raise PreflightError(
            f"The {role} file path contains a NUL character, which no file name can hold. "
            "Pass the absolute path of a .jsonl file, or a file id."
        )
    raw = Path(given).expanduser()
    if not raw.is_absolute():
        raise PreflightError(
            f"The {role} file {given!r} is a relative path, and the server's working directory is not the user's "
            f"({Path.cwd()}). Pass an absolute path."
        )
    try:
        path = raw.resolve(strict=True)
    except (OSError, RuntimeError):
        raise PreflightError(
            f"The {role} file {given!r} does not exist. Pass an absolute path to a .jsonl file, or a file id."
        ) from None
    if not path.is_file():
        raise PreflightError(
            f"The {role} file {given!r} is not a regular file. Pass a .jsonl file, or a file id."
        )
    if path.suffix.lower() not in (".jsonl", ".parquet"):
        raise PreflightError(
            f"The {role} file {path.name} is not .jsonl or .parquet: Together trains on those only."
        )
    if any(part.startswith(".") and part not in (".", "..") for part in path.parts):
        raise PreflightError(
            f"The {role} file {given!r} is inside a hidden directory; byom does not read or upload files from there. "
            "Copy the data to a normal folder and pass that path."
        )
    return path
