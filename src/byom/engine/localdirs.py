"""The one rule for a local model directory named in a request (``from_hf_model``, or a model to serve on demand).

It must be under one of the engine's allowed roots (home, its data dir, ``--allow-dir``), hold a ``config.json``
(or an ``adapter_config.json``: a LoRA adapter to serve) and lead nowhere out of itself (``byom.contained``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from byom.contained import require_contained
from byom.errors import InvalidRequest, UnsafeModelFile

__all__ = ["contained_dir", "is_local_path", "local_model_dir"]


def is_local_path(value: str) -> bool:
    """Whether ``value`` names a local path rather than a Hub id or a model name."""
    return value.startswith(("/", "~", "./", "../"))


def contained_dir(directory: Path, *, param: str) -> Path:
    """``directory`` when no file in it leads out of it (byom.contained), else a 400 in the rule's own words."""
    try:
        return require_contained(directory)
    except UnsafeModelFile as exc:
        raise InvalidRequest(str(exc), param=param) from None


def local_model_dir(
    value: str, roots: Sequence[Path], *, param: str, adapter_ok: bool = False
) -> Path | None:
    """A local model directory checked against the allowed ``roots``; None when ``value`` is no local path."""
    if not is_local_path(value):
        return None
    shown = value[:300]
    try:
        path = Path(value).expanduser().resolve()
    except (RuntimeError, ValueError, OSError) as exc:
        raise _unusable_path(shown, exc, param) from None
    resolved = [Path(r).expanduser().resolve() for r in roots]
    if not any(path == root or path.is_relative_to(root) for root in resolved):
        raise InvalidRequest(
            f"Local model directory {shown} is outside the directories this engine may read. Move it under your"
            " home or the engine's data dir, or start the engine with --allow-dir.",
            param=param,
        )
    markers = ("config.json", "adapter_config.json") if adapter_ok else ("config.json",)
    try:
        is_model = any((path / marker).is_file() for marker in markers)
    except (ValueError, OSError) as exc:
        raise _unusable_path(shown, exc, param) from None
    if not is_model:
        raise InvalidRequest(
            f"{shown} is not a model directory (no {' or '.join(markers)}). Point at a saved model.",
            param=param,
        )
    return contained_dir(path, param=param)


def _unusable_path(shown: str, exc: Exception, param: str) -> InvalidRequest:
    # ~nosuchuser (RuntimeError), a NUL byte (ValueError), a name over the OS's limit (ENAMETOOLONG).
    return InvalidRequest(
        f"{param} {shown!r} is not a usable local path ({type(exc).__name__}: {str(exc)[:120]})."
        " Give an absolute path to a saved model directory.",
        param=param,
    )
