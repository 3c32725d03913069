"""The tiny Llama's tokenizer and an overfit dataset, made once per session (the model: tests/engine/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from byom.engine.tiny import write_overfit_dataset


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture(scope="session")
def conv_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_overfit_dataset(tmp_path_factory.mktemp("data") / "train.jsonl", n=32)
