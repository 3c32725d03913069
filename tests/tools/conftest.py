"""Fixtures for the MCP tool tests: local model directories and an in-memory client."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from byom.tools import AppState
from support.engine import BASE_URL, FAST_JOB, KEY
from support.faults import FaultTransport, queued_engine

# HuggingFaceTB/SmolLM2-135M-Instruct's config.json (Llama architecture, 8k context): the BYOM docs' example.
SMOLLM2_135M_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_hidden_layers": 30,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
    "max_position_embeddings": 8192,
    "rope_theta": 100000,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.42.3",
}


@pytest.fixture
def smollm2_dir(tmp_path: Path) -> Path:
    """A local copy of SmolLM2-135M-Instruct's metadata (config + tokenizer config, no weights)."""
    root = tmp_path / "SmolLM2-135M-Instruct"
    root.mkdir()
    (root / "config.json").write_text(json.dumps(SMOLLM2_135M_CONFIG))
    (root / "tokenizer.json").write_text("{}")
    (root / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
                "model_max_length": 8192,
            }
        )
    )
    return root


@pytest.fixture(scope="session")
def tiny_llama_dir(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny, random) Llama checkpoint to inspect: the session's ``tiny_model`` with a 2,048-token context."""
    root = Path(shutil.copytree(tiny_model, tmp_path_factory.mktemp("inspect") / "tiny-llama"))
    config = json.loads((root / "config.json").read_text())
    (root / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 2048}))
    return root


@pytest.fixture(scope="session")
def tiny_llama_params(tiny_llama_dir: Path) -> int:
    """The exact parameter count of ``tiny_llama_dir``, from its config (Llama's shapes; tied head saved once)."""
    c = json.loads((tiny_llama_dir / "config.json").read_text())
    h, inter, layers, vocab = (
        c["hidden_size"],
        c["intermediate_size"],
        c["num_hidden_layers"],
        c["vocab_size"],
    )
    kv = h // c["num_attention_heads"] * c["num_key_value_heads"]
    per_layer = h * h * 2 + 2 * kv * h + 3 * h * inter + 2 * h
    return (1 if c.get("tie_word_embeddings", True) else 2) * vocab * h + h + layers * per_layer


# ---- the job tools against the real engine (in-process, over ASGI) ------------------------------------


@pytest.fixture
def byom_settings(tmp_path: Path) -> Settings:
    """The MCP server's settings for the local engine of the ``engine_transport`` fixture."""
    return Settings(
        data_dir=tmp_path / "byom",
        cache_dir=tmp_path / "byom-cache",
        engine_url=BASE_URL,
        engine_api_key=SecretStr(KEY),
        backend_choice="local",
    )


@pytest.fixture
def paid(byom_settings: Settings) -> Settings:
    """byom configured for Together's cloud, with the engine standing in for api.together.ai."""
    return byom_settings.model_copy(
        update={
            "backend_choice": "together",
            "together_api_key": SecretStr(KEY),
            "together_base_url": BASE_URL,
        }
    )


@pytest.fixture
def jobs_server(
    engine_transport: tuple[httpx2.ASGITransport, EngineState], byom_settings: Settings
) -> MCPServer[AppState]:
    """byom-mcp wired to the real engine (its app and job runner, in this process)."""
    return build_server(byom_settings, transport=engine_transport[0])


@pytest.fixture
def train_file(tmp_path: Path, overfit_bytes: bytes) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_bytes(overfit_bytes)
    return path


@pytest.fixture
def queued(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FaultTransport, EngineState]]:
    """The real engine (its runner not started: jobs stay queued) behind a transport that injects faults."""
    with queued_engine(tmp_path, tmp_path_factory.getbasetemp()) as engine:
        yield engine


@pytest.fixture
def faults(queued: tuple[FaultTransport, EngineState]) -> FaultTransport:
    """The wire to the ``queued`` engine: inject faults, count what was sent."""
    return queued[0]


@pytest.fixture
def queued_state(queued: tuple[FaultTransport, EngineState]) -> EngineState:
    """The ``queued`` engine's state: its database, settings and runner (not started)."""
    return queued[1]


@pytest.fixture
def tool_args(train_file: Path, tiny_model: Path) -> dict[str, Any]:
    """create_finetune's arguments for the tiny model and its overfit data (a seconds-long CPU job)."""
    return {"training_file": str(train_file), "from_hf_model": str(tiny_model), **FAST_JOB}
