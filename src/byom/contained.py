"""One containment rule for every file read on behalf of a local model directory.

A model directory (a git clone, an unpacked archive, a Hub download) is untrusted input: a
``chat_template.jinja`` that is a link to ``~/.ssh/id_rsa`` or ``/proc/self/environ`` must never be read.

    directory ──model_root()──► the root links may lead into: the directory itself, or for a Hub cache
                                snapshot (models--org--name/snapshots/<rev>/ -> ../../blobs/) its models--org--name
    each entry ──resolve──► under /proc, /sys or /dev?  → refused ("a live system file")
                            outside the root?           → refused (names the link and where it points)
                            a FIFO, socket or device?   → refused (never opened, so never hangs)
                            a regular file or a folder inside the root → fine

Who uses it: inspection reads every file through ``read_bytes`` and reports ``problems`` as a FAIL finding;
tokenizers load from ``vetted_copy`` (regular files copied out, no links left for a loader to follow); the
engine, the trainer and serving call ``require_contained`` before handing a directory to transformers or PEFT.
Each refusal is an ``UnsafeModelFile`` whose words are the same wherever it is raised.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from byom.errors import UnsafeModelFile

__all__ = [
    "FIX",
    "MAX_LISTED_ENTRIES",
    "Escape",
    "contained_file",
    "model_root",
    "problems",
    "read_bytes",
    "require_contained",
    "vetted_copy",
]

MAX_LISTED_ENTRIES = 10_000  # entries looked at per folder; a model directory holds a few dozen
# The one folder below the top level that loaders read (transformers' CHAT_TEMPLATE_DIR).
_SUBFOLDERS = ("additional_chat_templates",)
_SYSTEM = (Path("/proc"), Path("/sys"), Path("/dev"))
# Weights are never copied for a tokenizer (cheap copies), nor is anything a tokenizer file never is.
_WEIGHTS = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".ckpt",
    ".gguf",
    ".h5",
    ".msgpack",
    ".onnx",
    ".pkl",
    ".npz",
)
_MAX_COPIED_BYTES = 256 * 1024 * 1024  # the largest tokenizer.json known is ~35 MB
_MAX_SHOWN = 200
FIX = "Copy the real file into the model directory (or delete the entry), then try again."
_O_SAFE = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
)


def _shown(value: object) -> str:
    text = str(value).encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"


@dataclass(frozen=True)
class Escape:
    """One entry that is never opened: ``what`` names it and where it leads; ``message`` adds the fix."""

    name: str
    what: str

    @property
    def message(self) -> str:
        return f"{self.what} {FIX}"


def _system(path: Path) -> bool:
    return any(path == s or path.is_relative_to(s) for s in _SYSTEM)


def model_root(directory: Path) -> Path:
    """The folder links in ``directory`` may lead into (resolved); UnsafeModelFile for a system directory.

    For a Hugging Face cache snapshot (``models--org--name/snapshots/<rev>``) it is ``models--org--name``:
    the snapshot's files are links into ``../../blobs``.
    """
    root = directory.expanduser().resolve()
    if _system(root):
        raise UnsafeModelFile(
            f"{_shown(directory)} is under /proc, /sys or /dev, not a model directory, so nothing in it is read. "
            "Give the directory save_pretrained wrote."
        )
    repo = root.parent.parent
    if root.parent.name == "snapshots" and repo.name.startswith("models--"):
        return repo
    return root


def _kind(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return None


def _check(directory: Path, root: Path, name: str) -> tuple[Path | None, Escape | None]:
    """(the resolved path, None) for a contained entry (path None when absent or dangling), else (None, why)."""
    entry = directory / name
    where = f"{name} in the model directory {_shown(directory)}"
    try:
        target = entry.resolve()
    except (RuntimeError, OSError):  # a link loop
        return None, Escape(name, f"{where} is a symbolic link that loops, so it was not read.")
    if _system(target):
        return None, Escape(
            name,
            f"{where} leads to {_shown(target)}, a live system file (/proc, /sys, /dev), so it was not read.",
        )
    if not target.is_relative_to(root):
        return None, Escape(
            name,
            f"{where} is a symbolic link to {_shown(target)}, outside the model directory, so it was not read.",
        )
    try:
        mode = target.stat().st_mode  # stat, never open: a FIFO would block an open
    except FileNotFoundError:
        return None, None  # absent, or a dangling link inside: the same as a missing file
    kind = _kind(mode)
    if kind:
        return None, Escape(name, f"{where} is {kind}, not a regular file, so it was not read.")
    return target, None


def _names(directory: Path) -> list[str]:
    with os.scandir(directory) as entries:
        return sorted(e.name for _, e in zip(range(MAX_LISTED_ENTRIES), entries, strict=False))


def problems(directory: Path) -> list[Escape]:
    """Every entry of ``directory`` (top level, and ``additional_chat_templates/``) that is never opened."""
    directory = directory.expanduser().resolve()
    root = model_root(directory)
    found: list[Escape] = []
    for name in _names(directory):
        _, escape = _check(directory, root, name)
        if escape is not None:
            found.append(escape)
    for sub in _SUBFOLDERS:
        folder = directory / sub
        if folder.is_dir() and not any(e.name == sub for e in found):
            found += [
                e for n in _names(folder) if (e := _check(directory, root, f"{sub}/{n}")[1]) is not None
            ]
    return found


def require_contained(directory: Path) -> Path:
    """``directory`` resolved, when nothing in it leads out; UnsafeModelFile naming the first entry that does."""
    found = problems(directory)
    if found:
        more = f" ({len(found) - 1} more entries like it.)" if len(found) > 1 else ""
        raise UnsafeModelFile(found[0].message + more)
    return directory.expanduser().resolve()


def contained_file(directory: Path, name: str) -> Path | None:
    """``directory/name`` resolved to a regular file inside the root; None when absent; else UnsafeModelFile.
    ``directory`` must be resolved already."""
    path, escape = _check(directory, model_root(directory), name)
    if escape is not None:
        raise UnsafeModelFile(escape.message)
    if path is not None and path.is_dir():
        raise UnsafeModelFile(
            f"{name} in the model directory {_shown(directory)} is a folder, not a file. "
            "Replace it with the file save_pretrained writes."
        )
    return path


def _open(path: Path) -> BinaryIO:
    """Open a resolved path for reading, never through a link swapped in since, and only a regular file."""
    fd = os.open(path, _O_SAFE)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeModelFile(f"{_shown(path)} is not a regular file, so it was not read. {FIX}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(directory: Path, name: str, limit: int) -> bytes | None:
    """At most ``limit + 1`` bytes of a contained file (one more than allowed says it is too big); None if absent."""
    path = contained_file(directory, name)
    if path is None:
        return None
    with _open(path) as fh:
        return fh.read(limit + 1)


@contextmanager
def vetted_copy(directory: Path) -> Iterator[Path]:
    """A private temporary copy of the directory's small files (weights left out), all regular files, no links.

    A loader pointed at the copy (``AutoTokenizer.from_pretrained``) cannot open anything outside it.
    UnsafeModelFile when an entry of ``directory`` leads out; the copy is deleted on exit.
    """
    source = require_contained(directory)
    root = model_root(source)
    with tempfile.TemporaryDirectory(prefix="byom-model-") as tmp:  # mkdtemp: 0700
        copy = Path(tmp)
        for sub in ("", *_SUBFOLDERS):
            folder = source / sub if sub else source
            if not folder.is_dir():
                continue
            for name in _names(folder):
                rel = f"{sub}/{name}" if sub else name
                if name.endswith(_WEIGHTS):
                    continue
                path, escape = _check(source, root, rel)
                if escape is not None:  # changed since require_contained looked
                    raise UnsafeModelFile(escape.message)
                if path is None or path.is_dir() or path.stat().st_size > _MAX_COPIED_BYTES:
                    continue
                (copy / sub).mkdir(exist_ok=True)
                with _open(path) as src, open(copy / rel, "xb") as dst:
                    shutil.copyfileobj(src, dst)
        yield copy
