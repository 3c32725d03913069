"""Parse safetensors headers (8-byte little-endian length + JSON) into parameter counts per dtype."""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterator
from pathlib import Path

from byom.errors import HubError

__all__ = [
    "MAX_HEADER_LENGTH",
    "HeaderCounts",
    "count_params",
    "header_length",
    "read_local_header",
    "read_streamed_header",
]

# huggingface_hub constants.SAFETENSORS_MAX_HEADER_LENGTH (2.4.0).
MAX_HEADER_LENGTH = 25_000_000

HeaderCounts = dict[str, int]


def header_length(prefix: bytes, name: str) -> int:
    """Length of the JSON header announced by the first 8 bytes of a safetensors file."""
    if len(prefix) < 8:
        raise HubError(
            f"{name} is too small to be a safetensors file. Re-upload it with save_file/save_pretrained."
        )
    (length,) = struct.unpack("<Q", prefix[:8])
    if length > MAX_HEADER_LENGTH:
        # A Git LFS pointer or a corrupt file reads as an absurd length (ref: "header too large").
        raise HubError(
            f"{name} announces a {length}-byte header, over the {MAX_HEADER_LENGTH} limit: it is probably a Git LFS "
            "pointer or corrupt. Re-upload the weights with `git lfs` or huggingface_hub's upload_folder."
        )
    return int(length)


def count_params(header: bytes, name: str) -> HeaderCounts:
    """Elements per dtype from a safetensors JSON header (``__metadata__`` skipped)."""
    try:
        tensors = json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HubError(
            f"{name} has an unreadable safetensors header. Re-save the weights with safetensors."
        ) from exc
    counts: HeaderCounts = {}
    if not isinstance(tensors, dict):
        raise HubError(f"{name} has a safetensors header that is not a JSON object. Re-save the weights.")
    for key, info in tensors.items():
        if key == "__metadata__" or not isinstance(info, dict):
            continue
        dtype, shape = info.get("dtype"), info.get("shape")
        if isinstance(dtype, str) and isinstance(shape, list):
            counts[dtype] = counts.get(dtype, 0) + math.prod(int(d) for d in shape)
    return counts


def read_local_header(path: Path) -> HeaderCounts:
    """Read only the header of a local safetensors file (never the tensor data)."""
    with path.open("rb") as fh:
        length = header_length(fh.read(8), path.name)
        header = fh.read(length)
    if len(header) < length:
        raise HubError(f"{path.name} is truncated (incomplete metadata). Re-download or re-save the file.")
    return count_params(header, path.name)


def read_streamed_header(chunks: Iterator[bytes], name: str) -> HeaderCounts:
    """Consume just enough of a byte stream to parse the header, leaving the tensor data unread."""
    buf = bytearray()
    need = 8
    length: int | None = None
    for chunk in chunks:
        buf.extend(chunk)
        if length is None and len(buf) >= 8:
            length = header_length(bytes(buf[:8]), name)
            need = 8 + length
        if len(buf) >= need and length is not None:
            break
    if length is None or len(buf) < need:
        raise HubError(
            f"{name} ended before its safetensors header did (incomplete metadata). Re-upload the file."
        )
    return count_params(bytes(buf[8:need]), name)
