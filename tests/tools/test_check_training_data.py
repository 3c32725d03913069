"""check_training_data through an MCP client: problems with line numbers and fixes, token statistics and the
loss preview with the model's own tokenizer, and clear errors for paths that are not training data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from byom.config import Settings
from byom.server import build_server
from byom.tools import AppState
from support.tool_calls import call_error, call_ok, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path: Path) -> MCPServer[AppState]:
    return build_server(
        Settings(data_dir=tmp_path / "byom", cache_dir=tmp_path / "cache", engine_autostart=False)
    )


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


async def test_a_valid_file_with_the_models_tokenizer_shows_tokens_and_what_the_loss_sees(
    server: MCPServer[AppState], tiny_model: Path, train_file: Path
) -> None:
    async with Client(server) as client:
        result = await client.call_tool(
            "check_training_data", {"path": str(train_file), "model": str(tiny_model), "max_seq_length": 64}
        )
    assert not result.is_error, text_of(result)
    check = result.structured_content or {}
    assert check["report"]["valid"] and check["report"]["dataset_format"] == "conversation"
    stats = check["token_stats"]
    assert stats["samples"] == 16 and stats["max_seq_length"] == 64 and stats["trained_tokens"] > 0
    assert check["tokens_per_epoch"] == stats["processed_tokens"] >= stats["trained_tokens"]
    assert len(check["preview"]) == 3 and all("⟦" in p["rendered"] for p in check["preview"])
    text = text_of(result)
    assert "What the loss sees (untrusted dataset text):\n```text" in text


async def test_problems_come_with_line_numbers_and_fixes(server: MCPServer[AppState], tmp_path: Path) -> None:
    data = _write(
        tmp_path / "bad.jsonl",
        [
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
            "{not json",
            {"messages": [{"role": "user", "content": "only a question"}]},
        ],
    )
    async with Client(server) as client:
        check = await call_ok(client, "check_training_data", {"path": str(data)})
    report = check["report"]
    assert report["valid"] is False
    lines = {p["line"] for p in report["problems"]}
    assert {2, 3} <= lines
    assert all(p["fix"] for p in report["problems"])
    assert check["token_stats"] is None and check["notes"]  # says how to get the token statistics


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d / "missing.jsonl", "does not exist"),
        (lambda d: d, "not a regular file"),
        (lambda d: Path("relative/train.jsonl"), "absolute path"),
        (lambda d: d / ".secrets" / "keys.jsonl", "hidden directory"),
        (lambda d: d / "notes.txt", ".jsonl or .parquet"),
    ],
)
async def test_paths_that_are_not_training_data_are_clear_errors(
    server: MCPServer[AppState], tmp_path: Path, make: object, words: str
) -> None:
    hidden = tmp_path / ".secrets"
    hidden.mkdir()
    (hidden / "keys.jsonl").write_text('{"text": "x"}\n')
    (tmp_path / "notes.txt").write_text("hello\n")
    path = make(tmp_path)  # type: ignore[operator]
    async with Client(server) as client:
        text = await call_error(client, "check_training_data", {"path": str(path)})
    assert words in text


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions and a non-root user"
)
async def test_an_unreadable_file_is_a_clear_error(server: MCPServer[AppState], train_file: Path) -> None:
    train_file.chmod(0)
    try:
        async with Client(server) as client:
            text = await call_error(client, "check_training_data", {"path": str(train_file)})
    finally:
        train_file.chmod(0o600)
    assert "permission" in text.lower() or "cannot be read" in text


async def test_an_unknown_base_and_a_tokenizer_that_does_not_load(
    server: MCPServer[AppState], train_file: Path, tmp_path: Path
) -> None:
    empty_model = tmp_path / "no-tokenizer"
    empty_model.mkdir()
    async with Client(server) as client:
        unknown = await call_error(
            client, "check_training_data", {"path": str(train_file), "base": "acme/nope"}
        )
        broken = await call_error(
            client, "check_training_data", {"path": str(train_file), "model": str(empty_model)}
        )
    assert "recommend_base" in unknown
    assert "could not be loaded" in broken and "inspect_hf_model" in broken
