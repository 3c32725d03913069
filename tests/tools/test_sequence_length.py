"""One sequence length everywhere, through a real MCP client: a model whose config says 512 tokens while its
tokenizer says 1e30 ("no limit recorded") is checked, planned and trained at 512, and the check's tokens per
epoch are the plan's count.

The engine is the real one with its runner not started (the plan and the job's spec are what matter here).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mcp import Client

from byom.config import Settings
from byom.engine.state import EngineState
from byom.server import build_server
from support.faults import FaultTransport, engine_jobs
from support.tool_calls import call_error, call_ok

pytestmark = pytest.mark.anyio

SENTINEL = int(
    1e30
)  # transformers' VERY_LARGE_INTEGER: what tokenizer_config says when no limit was recorded


@pytest.fixture(scope="module")
def model_512(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a 512-token context in config.json and model_max_length 1e30 in its tokenizer."""
    dest = tmp_path_factory.mktemp("ctx") / "tiny-512"
    shutil.copytree(tiny_model, dest)
    for name, key, value in (
        ("config.json", "max_position_embeddings", 512),
        ("tokenizer_config.json", "model_max_length", SENTINEL),
    ):
        data = json.loads((dest / name).read_text())
        (dest / name).write_text(json.dumps({**data, key: value}))
    return dest


@pytest.fixture
def long_rows(tmp_path: Path) -> Path:
    """3 conversations of well over 512 tokens, then short ones."""
    answer = " ".join(f"token{i} and more words {i * 7}" for i in range(300))
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Question {n}?"},
                {"role": "assistant", "content": answer},
            ]
        }
        for n in range(3)
    ] + [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
        for _ in range(5)
    ]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


async def test_the_check_cuts_at_the_models_context_not_the_tokenizers_sentinel(
    byom_settings: Settings, model_512: Path, long_rows: Path
) -> None:
    async with Client(build_server(byom_settings)) as c:
        check = await call_ok(c, "check_training_data", {"path": str(long_rows), "model": str(model_512)})
    stats = check["token_stats"]
    assert check["max_seq_length"] == stats["max_seq_length"] == 512
    assert stats["max"] > 1000 and stats["over_max_seq_length"] == 3  # what training will cut, said
    assert any("the model's context 512 (config.json)" in n for n in check["notes"])
    assert check["preview"][0]["truncated"] is True
    # Tokens per epoch are what training reads: the long rows count 512 each.
    assert check["tokens_per_epoch"] == stats["processed_tokens"] < stats["total_tokens"]


async def test_the_plan_and_the_job_use_the_same_length_and_count(
    byom_settings: Settings,
    queued: tuple[FaultTransport, EngineState],
    model_512: Path,
    long_rows: Path,
) -> None:
    settings = byom_settings.model_copy(update={"auto_confirm": True})
    args = {
        "training_file": str(long_rows),
        "from_hf_model": str(model_512),
        "n_epochs": 2,
        "batch_size": 8,
        "learning_rate": 0.01,
    }
    async with Client(build_server(settings, transport=queued[0])) as c:
        check = await call_ok(c, "check_training_data", {"path": str(long_rows), "model": str(model_512)})
        created = await call_ok(c, "create_finetune", args)
    plan = created["plan"]
    assert plan["max_seq_length"] == 512 and plan["request"]["max_seq_length"] == 512
    assert "the model's context 512" in plan["summary"]
    tokens = plan["price"]["tokens"]
    assert (
        tokens["per_epoch"] == check["tokens_per_epoch"] and tokens["total"] == 2 * check["tokens_per_epoch"]
    )
    assert f"× 2 epoch(s) = {tokens['total']:,}" in plan["summary"]
    (row,) = queued[1].db.query("SELECT spec FROM jobs")
    assert json.loads(row["spec"])["max_seq_length"] == 512  # the engine trains at the same length


async def test_a_requested_length_over_the_models_context_is_refused_before_anything_is_created(
    byom_settings: Settings,
    queued: tuple[FaultTransport, EngineState],
    model_512: Path,
    long_rows: Path,
) -> None:
    settings = byom_settings.model_copy(update={"auto_confirm": True})
    args = {"training_file": str(long_rows), "from_hf_model": str(model_512), "max_seq_length": 1024}
    async with Client(build_server(settings, transport=queued[0])) as c:
        text = await call_error(c, "create_finetune", args)
    assert "over the context" in text and "≤ 512" in text
    assert engine_jobs(queued[1]) == [] and queued[0].count("POST", "/v1/files") == 0  # not even uploaded
