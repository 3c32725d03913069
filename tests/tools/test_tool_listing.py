"""The stored ``tools/list`` answer (``tools/_listing.py``): the same definitions as a fresh build, for this code
and this set of tools only, private, and never in the way of a call (the tools register on first use)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from mcp import Client

from byom.config import load_settings
from byom.server import build_server
from byom.tools._listing import StoredToolList, code_fingerprint
from support.tool_calls import call_ok

pytestmark = pytest.mark.anyio


def _listing(tools: list) -> list[dict]:
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


async def _list(env: dict[str, str]) -> list[dict]:
    async with Client(build_server(load_settings(env))) as client:
        return _listing((await client.list_tools()).tools)


async def test_a_second_server_lists_the_stored_definitions_equal_to_a_fresh_build(tmp_path: Path) -> None:
    env = {"BYOM_CACHE_DIR": str(tmp_path)}
    fresh = await _list(env)
    assert len(list(tmp_path.glob("tools-list-*.json"))) == 1

    server = build_server(load_settings(env))
    async with Client(server) as client:
        again = _listing((await client.list_tools()).tools)
        assert server._deferred, "listed from the stored answer: no tool module needed yet"
        assert again == fresh

        data = tmp_path / "rows.jsonl"
        data.write_text(json.dumps({"text": "hello"}) + "\n", encoding="utf-8")
        checked = await call_ok(client, "check_training_data", {"path": str(data)})  # registers on first call
        assert not server._deferred
        assert checked["report"]["valid"] is True
        assert _listing((await client.list_tools()).tools) == fresh


async def test_each_set_of_tools_gets_its_own_definitions(tmp_path: Path) -> None:
    everything = await _list({"BYOM_CACHE_DIR": str(tmp_path)})
    read_only = await _list({"BYOM_CACHE_DIR": str(tmp_path), "BYOM_READ_ONLY": "1"})
    assert len(read_only) < len(everything)
    assert len(list(tmp_path.glob("tools-list-*.json"))) == 2  # one file each: neither overwrites the other
    assert await _list({"BYOM_CACHE_DIR": str(tmp_path)}) == everything
    assert await _list({"BYOM_CACHE_DIR": str(tmp_path), "BYOM_TOOLS": "job_status"}) == [
        t for t in everything if t["name"] == "job_status"
    ]


@pytest.mark.parametrize(
    "content", [b"", b"{not json", b'{"key": 1}', b"[]", b'{"key": "KEY", "tools": [{"x": 1}]}']
)
async def test_a_damaged_or_foreign_file_is_ignored_and_rewritten(tmp_path: Path, content: bytes) -> None:
    env = {"BYOM_CACHE_DIR": str(tmp_path)}
    fresh = await _list(env)
    (stored_file,) = tmp_path.glob("tools-list-*.json")
    key = json.loads(stored_file.read_bytes())["key"]
    stored_file.write_bytes(content.replace(b"KEY", key.encode()))
    assert await _list(env) == fresh
    assert json.loads(stored_file.read_bytes())["key"] == key


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
async def test_the_stored_file_is_private(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    await _list({"BYOM_CACHE_DIR": str(cache)})
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    (stored_file,) = cache.glob("tools-list-*.json")
    assert stat.S_IMODE(stored_file.stat().st_mode) == 0o600


async def test_a_cache_dir_that_cannot_be_written_costs_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    env = {"BYOM_CACHE_DIR": str(blocker / "cache")}
    assert len(await _list(env)) == 12


def test_a_changed_source_file_changes_the_key(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "tool.py"
    module.write_text("x = 1\n", encoding="utf-8")
    before = code_fingerprint(tmp_path)
    module.write_text("x = 22\n", encoding="utf-8")
    assert code_fingerprint(tmp_path) != before
    after = code_fingerprint(tmp_path)
    (tmp_path / "pkg" / "new.py").write_text("", encoding="utf-8")
    assert code_fingerprint(tmp_path) != after


def test_the_key_names_the_set_of_tools(tmp_path: Path) -> None:
    from byom.server import TOOLS

    assert StoredToolList(tmp_path, TOOLS).key != StoredToolList(tmp_path, TOOLS[:-1]).key
    assert StoredToolList(tmp_path, TOOLS).key == StoredToolList(tmp_path, TOOLS).key
