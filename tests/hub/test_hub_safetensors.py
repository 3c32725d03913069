"""safetensors headers: malformed ones are corrupt-file errors, never absurd parameter counts."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from byom.errors import HubError
from byom.hub import local_safetensors_params
from byom.hub._safetensors import count_params


def _raw_file(path: Path, header: str, data_len: int = 64) -> Path:
    """A safetensors file whose JSON header is ``header`` verbatim (so it can hold Infinity, huge ints, ...)."""
    raw = header.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data_len)
    return path


def _entry(shape: str, offsets: str = "[0, 16]", dtype: str = '"F32"') -> str:
    return f'{{"w": {{"dtype": {dtype}, "shape": {shape}, "data_offsets": {offsets}}}}}'


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (_entry("[-5000000, 1000000]"), "shape"),  # was reported as -5 trillion parameters
        (_entry("[2, -2]"), "shape"),
        (_entry("[2.0, 2]"), "shape"),
        (_entry("[true, 4]"), "shape"),
        (_entry('["4", 1]'), "shape"),
        (_entry("[[4], 1]"), "shape"),
        (_entry("[null]"), "shape"),
        (_entry("[Infinity]"), "shape"),
        (_entry("[NaN]"), "shape"),
        (_entry("[1" + "0" * 30 + "]"), "shape"),
        (_entry("[4294967296, 4294967296, 4294967296]"), "elements"),
        (_entry('"4"'), "shape"),
        (_entry("[2, 2]", offsets='["0", "16"]'), "data_offsets"),
        (_entry("[2, 2]", offsets="[0.0, 16.0]"), "data_offsets"),
        (_entry("[2, 2]", offsets="[16, 0]"), "data_offsets"),
        (_entry("[2, 2]", offsets="[0]"), "data_offsets"),
        (_entry("[2, 2]", offsets="[0, 12]"), "needs 16"),
        (_entry("[2, 2]", dtype="7"), "dtype"),
        ('{"w": [1, 2]}', "not a tensor description"),
    ],
)
def test_malformed_headers_are_corrupt_files(header: str, why: str) -> None:
    with pytest.raises(HubError, match="corrupt safetensors header") as info:
        count_params(header.encode(), "model.safetensors")
    message = str(info.value)
    assert why in message and "save_pretrained" in message


@pytest.mark.parametrize("header", ["[1" + "0" * 5000 + "]", "[" * 100_000 + "]" * 100_000, '{"w": ', "\xff"])
def test_unparseable_headers_are_hub_errors(header: str) -> None:
    with pytest.raises(HubError, match="unreadable safetensors header"):
        count_params(header.encode("latin-1"), "model.safetensors")


def test_tensor_past_the_end_of_the_file_is_truncated(tmp_path: Path) -> None:
    _raw_file(tmp_path / "model.safetensors", _entry("[4, 4]", offsets="[0, 64]"), data_len=10)
    with pytest.raises(HubError, match="truncated"):
        local_safetensors_params(tmp_path)


def test_unknown_dtypes_are_counted_without_a_size_check() -> None:
    header = _entry("[2, 3]", offsets="[0, 1]", dtype='"X9"')
    assert count_params(header.encode(), "m.safetensors") == {"X9": 6}


def test_local_safetensors_params_sums_shards_per_dtype(tmp_path: Path) -> None:
    save_file({"a": np.zeros((4, 8), dtype=np.float16)}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file(
        {"b": np.zeros((3,), dtype=np.float32), "c": np.zeros((2, 2), dtype=np.int8)},
        str(tmp_path / "model-00002-of-00002.safetensors"),
    )
    save_file({"lora": np.zeros((100,), dtype=np.float32)}, str(tmp_path / "adapter_model.safetensors"))
    (tmp_path / "nested").mkdir()
    save_file({"x": np.zeros((1000,), dtype=np.float32)}, str(tmp_path / "nested" / "model.safetensors"))
    assert local_safetensors_params(tmp_path) == (39, {"F16": 32, "F32": 3, "I8": 4})


def test_local_safetensors_params_is_none_without_weights(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    assert local_safetensors_params(tmp_path) is None


def test_local_safetensors_params_rejects_a_corrupt_file(tmp_path: Path) -> None:
    _raw_file(tmp_path / "model.safetensors", _entry("[-5, 1000000000000]"))
    with pytest.raises(HubError, match="corrupt"):
        local_safetensors_params(tmp_path)


def test_local_safetensors_params_needs_a_directory(tmp_path: Path) -> None:
    with pytest.raises(HubError):
        local_safetensors_params(tmp_path / "missing")
