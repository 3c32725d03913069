"""A model directory whose file leads out of it (issue #14, findings 1 and 2), through the real MCP tools.

Each file the tokenizer and template loaders open, made a symlink to a secret outside the directory: the
secret never appears in any result; check_training_data and create_finetune refuse, and inspect_hf_model
reports a FAIL, in the same words, naming the link and where it points. The same for a link to
/proc/self/environ and for a FIFO (which must not hang); a link that stays inside the directory and a
Hugging Face cache snapshot keep working.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer

from byom.config import Settings
from byom.server import build_server
from byom.tools import AppState
from support.engine import HANG_S
from support.model_dirs import (
    CANARY,
    LOADER_FILES,
    as_hub_snapshot,
    model_copy,
    replace_with_link,
    secret_file,
)
from support.tool_calls import call_ok, text_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path: Path) -> MCPServer[AppState]:
    return build_server(
        Settings(data_dir=tmp_path / "byom", cache_dir=tmp_path / "cache", engine_autostart=False)
    )


def _everything(result: Any) -> str:
    """All a client sees of a result: its text and its structured content."""
    return text_of(result) + json.dumps(result.structured_content or {})


async def _data_check(client: Client, train_file: Path, model: Path) -> Any:
    with anyio.fail_after(HANG_S):  # a FIFO opened for reading would block here forever
        return await client.call_tool("check_training_data", {"path": str(train_file), "model": str(model)})


@pytest.mark.parametrize("name", LOADER_FILES)
async def test_a_loader_file_linked_out_is_refused_in_one_set_of_words_and_never_read(
    server: MCPServer[AppState], tiny_model: Path, train_file: Path, tmp_path: Path, name: str
) -> None:
    secret = secret_file(tmp_path / "home" / ".ssh")
    model = model_copy(tiny_model, tmp_path / "model")
    replace_with_link(model, name, secret)
    words = (
        f"{name} in the model directory {model} is a symbolic link to {secret}, outside the model directory"
    )
    async with Client(server) as client:
        checked = await _data_check(client, train_file, model)
        inspected = await client.call_tool("inspect_hf_model", {"model": str(model)})
    assert checked.is_error and words in text_of(checked), text_of(checked)
    assert CANARY not in _everything(checked) and CANARY not in _everything(inspected)
    if name == "config.json":  # nothing can be judged without it: refused outright
        assert inspected.is_error and words in text_of(inspected), text_of(inspected)
        return
    report = inspected.structured_content or {}
    assert report["verdict"] == "incompatible", report
    fails = [f for f in report["findings"] if f["check"] == "model_files"]
    assert [f["status"] for f in fails] == ["fail"] and words in fails[0]["evidence"], fails
    assert f"[FAIL] model_files: {words}" in text_of(inspected)
    assert "[PASS] chat_template" not in text_of(inspected) or name != "chat_template.jinja"


async def test_a_template_linked_to_proc_self_environ_is_never_read(
    server: MCPServer[AppState], tiny_model: Path, train_file: Path, tmp_path: Path
) -> None:
    model = model_copy(tiny_model, tmp_path / "model")
    replace_with_link(model, "chat_template.jinja", "/proc/self/environ")
    async with Client(server) as client:
        checked = await _data_check(client, train_file, model)
        inspected = await client.call_tool("inspect_hf_model", {"model": str(model)})
    words = f"chat_template.jinja in the model directory {model} leads to /proc/"
    assert checked.is_error and words in text_of(checked), text_of(checked)
    assert "a live system file" in text_of(checked)
    fails = [f for f in (inspected.structured_content or {})["findings"] if f["check"] == "model_files"]
    assert fails and words in fails[0]["evidence"] and fails[0]["status"] == "fail"
    for result in (checked, inspected):
        assert f"PATH={os.environ['PATH']}" not in _everything(result)


async def test_a_fifo_template_is_refused_without_hanging(
    server: MCPServer[AppState], tiny_model: Path, train_file: Path, tmp_path: Path
) -> None:
    model = model_copy(tiny_model, tmp_path / "model")
    (model / "chat_template.jinja").unlink()
    os.mkfifo(model / "chat_template.jinja")
    async with Client(server) as client:
        checked = await _data_check(client, train_file, model)
        with anyio.fail_after(HANG_S):
            inspected = await client.call_tool("inspect_hf_model", {"model": str(model)})
    words = f"chat_template.jinja in the model directory {model} is a FIFO (named pipe), not a regular file"
    assert checked.is_error and words in text_of(checked), text_of(checked)
    assert (inspected.structured_content or {})["verdict"] == "incompatible"
    assert words in text_of(inspected)


async def test_a_link_that_stays_inside_the_directory_still_works(
    server: MCPServer[AppState], tiny_model: Path, train_file: Path, tmp_path: Path
) -> None:
    model = model_copy(tiny_model, tmp_path / "model")
    (model / "templates").mkdir()
    (model / "chat_template.jinja").rename(model / "templates" / "chat.jinja")
    replace_with_link(model, "chat_template.jinja", Path("templates") / "chat.jinja")
    async with Client(server) as client:
        check = await call_ok(client, "check_training_data", {"path": str(train_file), "model": str(model)})
        report = await call_ok(client, "inspect_hf_model", {"model": str(model)})
    assert check["preview"] and check["token_stats"]["trained_tokens"] > 0
    assert report["has_chat_template"] and not [f for f in report["findings"] if f["check"] == "model_files"]


async def test_a_hugging_face_cache_snapshot_still_works(
    server: MCPServer[AppState], tiny_model: Path, train_file: Path, tmp_path: Path
) -> None:
    snapshot = as_hub_snapshot(tiny_model, tmp_path / "hub")
    async with Client(server) as client:
        check = await call_ok(
            client, "check_training_data", {"path": str(train_file), "model": str(snapshot)}
        )
        report = await call_ok(client, "inspect_hf_model", {"model": str(snapshot)})
    assert check["preview"] and check["token_stats"]["trained_tokens"] > 0
    assert report["verdict"] != "incompatible", report["findings"]


async def test_create_finetune_refuses_before_anything_is_uploaded(
    jobs_server: MCPServer[AppState], tool_args: dict[str, Any], tiny_model: Path, tmp_path: Path
) -> None:
    secret = secret_file(tmp_path / "home" / ".ssh")
    model = model_copy(tiny_model, tmp_path / "model")
    replace_with_link(model, "chat_template.jinja", secret)
    async with Client(jobs_server) as client:
        refused = await client.call_tool("create_finetune", {**tool_args, "from_hf_model": str(model)})
    text = text_of(refused)
    assert refused.is_error and "Nothing was uploaded or created" in text, text
    assert f"chat_template.jinja in the model directory {model} is a symbolic link to {secret}" in text
    assert CANARY not in _everything(refused)


async def test_a_tokenizer_config_naming_a_path_out_is_refused(
    server: MCPServer[AppState], tiny_model: Path, train_file: Path, tmp_path: Path
) -> None:
    # transformers joins fast_tokenizer_files' names to the directory: "../x/tokenizer.4.0.0.json" reads x's file.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "tokenizer.4.0.0.json").write_bytes((tiny_model / "tokenizer.json").read_bytes())
    model = model_copy(tiny_model, tmp_path / "model")
    (model / "tokenizer.json").unlink()
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["fast_tokenizer_files"] = ["../elsewhere/tokenizer.4.0.0.json"]
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    async with Client(server) as client:
        checked = await _data_check(client, train_file, model)
    assert checked.is_error, text_of(checked)
    assert "names '../elsewhere/tokenizer.4.0.0.json' in fast_tokenizer_files" in text_of(checked)
