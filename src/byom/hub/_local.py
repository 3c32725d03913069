"""Gather a RepoSnapshot from a local model directory (headers only, no tensor data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from byom.errors import EntryNotFound, HubError

from ._safetensors import read_local_header
from ._snapshot import RepoSnapshot, card_excerpt, card_license

__all__ = ["read_local"]

_MAX_FILES = 10_000


def _json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HubError(f"{path} is not valid JSON ({exc}). Fix or re-save it with save_pretrained.") from exc
    if not isinstance(data, dict):
        raise HubError(f"{path} is not a JSON object. Re-save it with save_pretrained.")
    return data


def read_local(directory: Path) -> RepoSnapshot:
    """Read config, adapter, tokenizer, card and safetensors headers from ``directory``."""
    root = directory.expanduser().resolve()
    files: list[str] = []
    for path in sorted(root.rglob("*")):
        if (
            ".git" in path.relative_to(root).parts
            or ".cache" in path.relative_to(root).parts
            or not path.is_file()
        ):
            continue
        files.append(path.relative_to(root).as_posix())
        if len(files) >= _MAX_FILES:
            break
    snap = RepoSnapshot(model=str(root), source="local", files=files)
    snap.config = _json(root / "config.json")
    snap.adapter_config = _json(root / "adapter_config.json")
    if snap.config is None and snap.adapter_config is None:
        raise EntryNotFound(
            f"{root} has no config.json (nor adapter_config.json). Point at the directory written by "
            "save_pretrained, which holds config.json next to the weights."
        )
    snap.tokenizer_config = _json(root / "tokenizer_config.json")

    totals: dict[str, int] = {}
    adapter_total = 0
    for name in files:
        if not name.endswith(".safetensors") or "/" in name:
            continue
        counts = read_local_header(root / name)
        if name.startswith("adapter_model"):
            adapter_total += sum(counts.values())
            continue
        for dtype, n in counts.items():
            totals[dtype] = totals.get(dtype, 0) + n
    if totals:
        snap.st_params, snap.st_total, snap.st_source = totals, sum(totals.values()), "headers"
    if adapter_total:
        snap.adapter_st_total = adapter_total

    readme = root / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")[:65_536]
        snap.card_excerpt, snap.license = card_excerpt(text), card_license(text)

    base = (snap.adapter_config or {}).get("base_model_name_or_path")
    if isinstance(base, str) and base:
        base_dir = Path(base).expanduser()
        if base_dir.is_dir() and (base_dir / "config.json").is_file():
            snap.base_config = _json(base_dir / "config.json")
        else:
            snap.base_config_note = (
                f"the base model {base!r} was not read (local inspection makes no network requests); "
                "inspect it separately for its size and architecture"
            )
    return snap
