"""Serving dtypes per device string of a config (cpu / cuda:N / mps)."""

from __future__ import annotations

import pytest

from byom.engine.deploy.host import _serving_dtype


@pytest.mark.parametrize(
    ("device", "dtype"), [("cpu", "float32"), ("cuda:1", "bfloat16"), ("mps", "float16")]
)
def test_each_device_loads_in_a_dtype_it_supports(device: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    assert _serving_dtype(torch, device) == getattr(torch, dtype)
