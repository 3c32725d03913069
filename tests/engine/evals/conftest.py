"""The engine process serving the evaluations' models (one tiny deployment each): ``local/tiny`` (the random
tiny model: it answers, and as a judge it answers garbage), ``local/judge-a`` (always answers "A") and
``local/judge-7`` (always "7"); an HTTP client and the official SDK on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import together

from support.engine import API_KEY, AUTH, EngineProcess, make_constant_model, open_state, register_tiny
from support.evals import sdk_for, serve


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[tuple[httpx2.Client, together.Together]]:
    data_dir = tmp_path_factory.mktemp("engine") / "data"
    judges = tmp_path_factory.mktemp("judges")
    models = {
        "tiny": tiny_model,
        "judge-a": make_constant_model(tiny_model, judges / "a", "A"),
        "judge-7": make_constant_model(tiny_model, judges / "7", "7"),
    }
    state = open_state(data_dir)
    ids = {name: register_tiny(state, path, name=name).id for name, path in models.items()}
    state.close()
    engine = EngineProcess(data_dir, tmp_path_factory.getbasetemp(), api_key=API_KEY).start()
    try:
        with httpx2.Client(base_url=engine.url, headers=AUTH, timeout=60) as http:
            for name, model_id in ids.items():
                serve(http, model_id, name)
            yield http, sdk_for(engine.url)
    finally:
        engine.stop()
