"""Gather a RepoSnapshot from a local model directory (headers only, no tensor data).

The directory is untrusted input: config.json is looked for before anything is listed, only the top
level is listed (bounded), every read is capped, and every file is read under ``byom.contained``'s rule
(no link out of the directory, nothing under /proc, /sys, /dev, no FIFO, socket or device); what the rule
refuses is listed in ``RepoSnapshot.unsafe_files`` and judged a FAIL.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from byom.contained import MAX_LISTED_ENTRIES, contained_file, problems, read_bytes
from byom.errors import EntryNotFound, HubError, UnsafeModelFile

from ._provenance import provenance
from ._safetensors import HeaderCounts, read_local_weights
from ._snapshot import DamagedWeights, RepoSnapshot, card_excerpt, card_license
from ._tokenizer import has_chat_template, has_tokenizer

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_LISTED_ENTRIES",
    "chat_template_present",
    "local_errors",
    "local_safetensors_params",
    "read_local",
    "resolve_model_dir",
    "tokenizer_problem",
]

# config.json / adapter_config.json are a few KB; 4 MB is far past any real one.
MAX_CONFIG_BYTES = 4 * 1024 * 1024
# tokenizer_config.json can carry thousands of added tokens (Llama 3: ~50 KB); still bounded.
_MAX_TOKENIZER_CONFIG_BYTES = 16 * 1024 * 1024
_MAX_TEMPLATE_FILE_BYTES = 1024 * 1024
_README_BYTES = 65_536  # only the start of the card is shown
_MAX_SHOWN_PATH = 200


def _shown(path: object) -> str:
    text = str(path)
    return text if len(text) <= _MAX_SHOWN_PATH else text[: _MAX_SHOWN_PATH - 1] + "…"


@contextmanager
def local_errors(path: object) -> Iterator[None]:
    """Turn an OS-level failure on a local path (permissions, name too long, ``~nouser``, NUL) into HubError."""
    try:
        yield
    except HubError:
        raise
    except PermissionError as exc:
        where = _shown(exc.filename or path)
        raise HubError(
            f"Permission denied reading {where}. Make the model directory and its files readable "
            "(e.g. chmod -R u+rX), or copy the checkpoint somewhere you can read."
        ) from exc
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise HubError(
                f"The path {_shown(path)} is too long for the file system. Give a shorter path to the model "
                "directory (or a Hub repo id such as org/name)."
            ) from exc
        where = _shown(exc.filename or path)
        raise HubError(
            f"Cannot read {where}: {exc.strerror or exc}. Check that the path is a readable model directory."
        ) from exc
    except RuntimeError as exc:  # Path.expanduser() for an unknown user; resolve() on a symlink loop
        raise HubError(
            f"Cannot resolve the path {_shown(path)} ({exc}). Give an existing directory, spelled out in full."
        ) from exc
    except ValueError as exc:  # "embedded null byte" from os.stat
        raise HubError(
            f"The path {_shown(path)!r} is not a usable file name ({exc}). Give the directory path without "
            "control characters."
        ) from exc


def resolve_model_dir(directory: Path) -> Path:
    """``directory`` with ``~`` expanded and symlinks resolved; HubError when that cannot be done."""
    with local_errors(directory):
        return directory.expanduser().resolve(strict=True)


class _ModelDir:
    """Bounded, contained reads from one resolved model directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path | None:
        """``root/name`` resolved, or None when absent; UnsafeModelFile when it leads out or is no regular file."""
        return contained_file(self.root, name)

    def has(self, name: str) -> bool:
        try:
            return self.path(name) is not None
        except HubError:
            return False

    def read(self, name: str, limit: int) -> bytes | None:
        """At most ``limit + 1`` bytes of ``name`` (one more than allowed tells the caller it is too big)."""
        return read_bytes(self.root, name, limit)

    def json(self, name: str, limit: int = MAX_CONFIG_BYTES) -> dict[str, Any] | None:
        raw = self.read(name, limit)
        if raw is None:
            return None
        if len(raw) > limit:
            raise HubError(
                f"{name} in {_shown(self.root)} is larger than {limit // (1024 * 1024)} MB, so it is not a file "
                "save_pretrained writes. Replace it with the original (re-save the model with save_pretrained)."
            )
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise HubError(
                f"{name} in {_shown(self.root)} is not UTF-8 text. Re-save it with save_pretrained."
            ) from exc
        except json.JSONDecodeError as exc:
            raise HubError(
                f"{name} in {_shown(self.root)} is not valid JSON ({exc.msg}, line {exc.lineno} column "
                f"{exc.colno}). Fix the file or re-save it with save_pretrained."
            ) from exc
        except (ValueError, RecursionError) as exc:  # 4300-digit integer limit; absurd nesting
            raise HubError(
                f"{name} in {_shown(self.root)} holds values no transformers file has (an integer with "
                "thousands of digits, or nesting thousands deep). Re-save it with save_pretrained."
            ) from exc
        if not isinstance(data, dict):
            raise HubError(
                f"{name} in {_shown(self.root)} is a JSON {type(data).__name__}, not an object. "
                "Re-save it with save_pretrained."
            )
        return data

    def top_files(self) -> list[str]:
        """Names of the regular files at the top level (never recursing), at most MAX_LISTED_ENTRIES looked at."""
        names: list[str] = []
        with os.scandir(self.root) as entries:
            for i, entry in enumerate(entries):
                if i >= MAX_LISTED_ENTRIES:
                    break
                if self.has(entry.name):  # a contained regular file
                    # Undecodable bytes in a name (surrogate escapes) cannot be sent as JSON: show them replaced.
                    names.append(entry.name.encode("utf-8", "replace").decode("utf-8"))
        return sorted(names)


def _tokenizer_problem(model_dir: _ModelDir) -> str | None:
    if has_tokenizer(model_dir.has):
        return None
    return (
        f"{_shown(model_dir.root)} has no tokenizer files (tokenizer.json, tokenizer.model, or vocab.json + "
        "merges.txt), so no tokenizer can be loaded from it. Save the tokenizer next to the weights: "
        "AutoTokenizer.from_pretrained(<original model>).save_pretrained(<this directory>)."
    )


def _chat_template_present(model_dir: _ModelDir) -> bool:
    try:
        tc = model_dir.json("tokenizer_config.json", _MAX_TOKENIZER_CONFIG_BYTES)
    except HubError:
        tc = None  # unreadable: only a template file can still count
    return has_chat_template(model_dir.has, tc)


def tokenizer_problem(directory: Path) -> str | None:
    """Why no tokenizer can be loaded from the local model ``directory``, or None when its files are there.

    Looks for tokenizer.json, tokenizer.model, or vocab.json + merges.txt (presence only, nothing is parsed).
    Raises HubError when ``directory`` itself cannot be read.
    """
    root = resolve_model_dir(directory)
    with local_errors(root):
        return _tokenizer_problem(_ModelDir(root))


def chat_template_present(directory: Path) -> bool:
    """Whether the local tokenizer in ``directory`` has a chat template (tokenizer_config.json or a template file)."""
    root = resolve_model_dir(directory)
    with local_errors(root):
        return _chat_template_present(_ModelDir(root))


def _damage(model_dir: _ModelDir, path: Path, name: str) -> tuple[HeaderCounts, DamagedWeights | None]:
    """The header's counts, and what is wrong with the file: a file cut short still has a readable header, so its
    parameters count and the report lists it as damaged beside every other check."""
    source = provenance(model_dir.root, name)
    where = {"hub_repo": source.repo, "hub_revision": source.revision, "sha256": source.sha256}
    try:
        weights = read_local_weights(path)
    except HubError as exc:
        # The message's own advice is for a raised error; the finding gives advice that fits the folder.
        return {}, DamagedWeights(file=name, problem=str(exc).split(". Re", 1)[0].rstrip("."), **where)
    if not weights.truncated:
        return weights.counts, None
    return weights.counts, DamagedWeights(
        file=name,
        problem=weights.describe(),
        expected_bytes=weights.expected_bytes,
        actual_bytes=weights.file_bytes,
        tensors_affected=weights.tensors_cut,
        tensors_total=weights.tensors_total,
        **where,
    )


def _weight_counts(model_dir: _ModelDir, files: list[str]) -> tuple[HeaderCounts, int, list[DamagedWeights]]:
    """Parameters per dtype of the model weights, the adapter's total, and the damaged files, from the headers."""
    totals: HeaderCounts = {}
    adapter_total = 0
    damaged: list[DamagedWeights] = []
    for name in files:
        if not name.endswith(".safetensors"):
            continue
        path = model_dir.path(name)
        if path is None:
            continue
        counts, damage = _damage(model_dir, path, name)
        if damage is not None:
            damaged.append(damage)
        if name.startswith("adapter_model"):
            adapter_total += sum(counts.values())
            continue
        for dtype, n in counts.items():
            totals[dtype] = totals.get(dtype, 0) + n
    return totals, adapter_total, damaged


def local_safetensors_params(directory: Path) -> tuple[int, dict[str, int]] | None:
    """(total parameters, parameters per dtype) from the headers of the top-level ``*.safetensors`` files.

    Adapter weights (``adapter_model*.safetensors``) are left out beside a model's, and counted in an
    adapter directory (one with no model weights). Returns None when ``directory`` holds no safetensors
    file. Raises HubError for a corrupt, truncated or escaping (symlinked) file.
    """
    root = resolve_model_dir(directory)
    with local_errors(root):
        model_dir = _ModelDir(root)
        weights = [f for f in model_dir.top_files() if f.endswith(".safetensors")]
        files = [f for f in weights if not f.startswith("adapter_model")] or weights
        if not files:
            return None
        totals, _, damaged = _weight_counts(model_dir, files)
    if damaged:
        raise HubError(
            f"{damaged[0].problem}. Replace it with an intact copy (inspect_hf_model on {_shown(root)} says how)."
        )
    return sum(totals.values()), totals


def read_local(directory: Path) -> RepoSnapshot:
    """Read config, adapter, tokenizer, card and safetensors headers from ``directory``."""
    root = resolve_model_dir(directory)
    with local_errors(root):
        return _read(_ModelDir(root))


def _read(model_dir: _ModelDir) -> RepoSnapshot:
    root = model_dir.root
    # Look for the config before listing anything: pointing at / or $HOME must fail fast.
    config = model_dir.json("config.json")
    adapter_config = model_dir.json("adapter_config.json")
    if config is None and adapter_config is None:
        raise EntryNotFound(
            f"{_shown(root)} has no config.json (nor adapter_config.json). Point at the directory written by "
            "save_pretrained, which holds config.json next to the weights."
        )
    files = model_dir.top_files()
    snap = RepoSnapshot(model=str(root), source="local", files=files)
    snap.unsafe_files = [escape.what for escape in problems(root)]
    snap.config, snap.adapter_config = config, adapter_config
    try:
        snap.tokenizer_config = model_dir.json("tokenizer_config.json", _MAX_TOKENIZER_CONFIG_BYTES)
    except UnsafeModelFile:
        snap.tokenizer_config = None  # never read; unsafe_files says why

    totals, adapter_total, snap.damaged = _weight_counts(model_dir, files)
    if totals:
        snap.st_params, snap.st_total, snap.st_source = totals, sum(totals.values()), "headers"
    if adapter_total:
        snap.adapter_st_total = adapter_total

    try:
        raw = model_dir.read("README.md", _README_BYTES)
    except HubError:
        raw = None  # an escaping or odd README only loses the card excerpt
    if raw is not None:
        text = raw[:_README_BYTES].decode("utf-8", errors="replace")
        snap.card_excerpt, snap.license = card_excerpt(text), card_license(text)

    base = (snap.adapter_config or {}).get("base_model_name_or_path")
    if isinstance(base, str) and base:
        snap.base_config, snap.base_config_note = _base_config(base)
    return snap


def _base_config(base: str) -> tuple[dict[str, Any] | None, str | None]:
    """config.json of an adapter's local base model, or a note saying why it was not read."""
    try:
        base_root: Path | None = resolve_model_dir(Path(base))
    except HubError:
        base_root = None  # not an existing path: a Hub id, or a directory on another machine
    if base_root is not None and base_root.is_dir():
        try:
            with local_errors(base_root):
                config = _ModelDir(base_root).json("config.json")
        except HubError as exc:
            return None, f"the base model's config.json could not be read: {exc}"
        if config is not None:
            return config, None
    return None, (
        f"the base model {_shown(base)!r} was not read (local inspection makes no network requests); "
        "inspect it separately for its size and architecture"
    )
