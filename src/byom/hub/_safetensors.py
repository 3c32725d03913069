"""Parse safetensors headers (8-byte little-endian length + JSON) into parameter counts per dtype."""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from byom.errors import HubError

__all__ = [
    "MAX_HEADER_LENGTH",
    "HeaderCounts",
    "LocalWeights",
    "count_params",
    "header_length",
    "read_local_weights",
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


# Bits per element of the safetensors dtypes (safetensors 0.8 ``Dtype``); an unknown dtype skips the size check.
_DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "I64": 64,
    "U64": 64,
    "F64": 64,
}
# A dimension or offset past 2**63 cannot come from safetensors, which stores sizes as u64 byte counts.
_MAX_DIM = 2**63 - 1


def _corrupt(name: str, why: str) -> HubError:
    return HubError(
        f"{name} has a corrupt safetensors header ({why}). Re-save the weights with save_pretrained "
        "(or safetensors' save_file), or re-download the file."
    )


def _is_int(value: object) -> bool:
    # JSON true/false load as bool, a subclass of int: not a dimension.
    return isinstance(value, int) and not isinstance(value, bool)


def _tensor_elements(key: str, info: dict[str, object], name: str) -> tuple[str, int, int]:
    """(dtype, element count, end data offset) of one header entry, after the checks safetensors itself makes on
    load."""
    label = repr(key[:80])
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or not dtype:
        raise _corrupt(name, f"tensor {label} has no dtype")
    if not isinstance(shape, list) or not all(_is_int(d) and 0 <= d <= _MAX_DIM for d in shape):
        raise _corrupt(
            name, f"tensor {label} has shape {str(shape)[:80]}, not a list of non-negative integers"
        )
    n = math.prod(shape)
    if n > _MAX_DIM:
        raise _corrupt(name, f"tensor {label} has {n} elements, more than any file can hold")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_int(o) and 0 <= o <= _MAX_DIM for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise _corrupt(
            name, f"tensor {label} has data_offsets {str(offsets)[:80]}, not [begin, end] byte offsets"
        )
    bits = _DTYPE_BITS.get(dtype)
    if bits is not None and offsets[1] - offsets[0] != (n * bits + 7) // 8:
        raise _corrupt(
            name,
            f"tensor {label} spans {offsets[1] - offsets[0]} bytes but shape {shape} of {dtype} needs "
            f"{(n * bits + 7) // 8}",
        )
    return dtype, n, int(offsets[1])


def _parse(header: bytes, name: str) -> tuple[HeaderCounts, list[int]]:
    """Elements per dtype and each tensor's end data offset; HubError when the header is not safetensors'."""
    try:
        tensors = json.loads(header)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers longer than Python's 4300-digit limit.
        raise HubError(
            f"{name} has an unreadable safetensors header. Re-save the weights with safetensors."
        ) from exc
    counts: HeaderCounts = {}
    ends: list[int] = []
    if not isinstance(tensors, dict):
        raise HubError(f"{name} has a safetensors header that is not a JSON object. Re-save the weights.")
    for key, info in tensors.items():
        if key == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise _corrupt(name, f"entry {key[:80]!r} is not a tensor description")
        dtype, n, end = _tensor_elements(key, info, name)
        counts[dtype] = counts.get(dtype, 0) + n
        ends.append(end)
    return counts, ends


@dataclass(frozen=True)
class LocalWeights:
    """A local safetensors file as its header describes it, and how much of it is really there."""

    name: str
    counts: HeaderCounts
    file_bytes: int
    expected_bytes: int  # 8 + header + the data the header's offsets reach
    tensors_total: int
    tensors_cut: int  # tensors whose data runs past the end of the file

    @property
    def truncated(self) -> bool:
        return self.file_bytes < self.expected_bytes

    def describe(self) -> str:
        return (
            f"{self.name} is truncated: {self.file_bytes:,} bytes on disk, but its own header needs "
            f"{self.expected_bytes:,}; {self.tensors_cut} of {self.tensors_total} tensors are cut off or missing"
        )


def count_params(header: bytes, name: str, *, data_len: int | None = None) -> HeaderCounts:
    """Elements per dtype from a safetensors JSON header (``__metadata__`` skipped).

    Raises HubError when the header is not what safetensors writes: negative, fractional, boolean or
    absurd dimensions, offsets that are not integers or disagree with the shape, or (with ``data_len``,
    the bytes after the header) tensors past the end of the file.
    """
    counts, ends = _parse(header, name)
    if data_len is not None and any(end > data_len for end in ends):
        raise HubError(
            f"{name} is truncated: its data ends at byte {max(ends):,} of the tensor data, but the file holds only "
            f"{max(data_len, 0):,}. Replace it with an intact copy (its size must match the original's)."
        )
    return counts


def read_local_weights(path: Path) -> LocalWeights:
    """Read only the header of a local safetensors file (never the tensor data) and measure the file against it.

    A file cut short is an answer (``truncated``), not an error; HubError when the header itself is unreadable.
    """
    with path.open("rb") as fh:
        length = header_length(fh.read(8), path.name)
        header = fh.read(length)
        size = os.fstat(fh.fileno()).st_size
    if len(header) < length:
        raise HubError(
            f"{path.name} is truncated: {size:,} bytes on disk, shorter than its own {length:,}-byte header "
            "(incomplete metadata). Replace it with an intact copy."
        )
    counts, ends = _parse(header, path.name)
    data_len = size - 8 - length
    return LocalWeights(
        name=path.name,
        counts=counts,
        file_bytes=size,
        expected_bytes=8 + length + max(ends, default=0),
        tensors_total=len(ends),
        tensors_cut=sum(1 for end in ends if end > data_len),
    )


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
