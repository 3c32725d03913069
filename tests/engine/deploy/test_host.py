"""Serving dtypes per device string of a config (cpu / cuda:N / mps); no load through a link out of a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from byom.engine.deploy.host import LoadedModel, LoadSpec, _serving_dtype
from byom.errors import EngineError
from support.engine import make_adapter
from support.model_dirs import model_copy, replace_with_link, secret_file


@pytest.mark.parametrize(
    ("device", "dtype"), [("cpu", "float32"), ("cuda:1", "bfloat16"), ("mps", "float16")]
)
def test_each_device_loads_in_a_dtype_it_supports(device: str, dtype: str) -> None:
    torch = pytest.importorskip("torch")
    assert _serving_dtype(torch, device) == getattr(torch, dtype)


def test_a_model_or_adapter_with_a_link_out_is_never_loaded(tmp_path: Path, tiny_model: Path) -> None:
    secret = secret_file(tmp_path / "home")
    model = model_copy(tiny_model, tmp_path / "model")
    replace_with_link(model, "tokenizer.json", secret)
    with pytest.raises(EngineError, match=f"tokenizer.json in the model directory .* link to {secret}"):
        LoadedModel(LoadSpec(path=str(model)))
    adapter = make_adapter(tiny_model, tmp_path / "adapter")
    (adapter / "adapter_config.json").rename(tmp_path / "home" / "adapter_config.json")
    replace_with_link(adapter, "adapter_config.json", tmp_path / "home" / "adapter_config.json")
    with pytest.raises(EngineError, match="adapter_config.json in the model directory .* outside the model"):
        LoadedModel(LoadSpec(path=str(adapter), base_path=str(tiny_model)))
    base = LoadedModel(LoadSpec(path=str(tiny_model)))
    with pytest.raises(EngineError, match="adapter_config.json in the model directory .* outside the model"):
        base.load_adapter("evil", str(adapter))
    assert base.adapters == set()
