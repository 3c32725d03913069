"""byom.contained, the one rule for reading a model directory: what leads out is never opened; what stays in is."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from byom.contained import contained_file, model_root, problems, read_bytes, require_contained, vetted_copy
from byom.errors import HubError, UnsafeModelFile
from support.model_dirs import CANARY, as_hub_snapshot, replace_with_link, secret_file


def _model(tmp_path: Path) -> Path:
    directory = tmp_path / "model"
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    (directory / "tokenizer.json").write_text('{"tok": 1}')
    (directory / "model.safetensors").write_bytes(b"\0" * 64)
    return directory


def test_a_plain_directory_is_its_own_root_and_a_cache_snapshot_is_its_repo_folder(
    tmp_path: Path, tiny_model: Path
) -> None:
    directory = _model(tmp_path)
    assert model_root(directory) == directory.resolve()
    snapshot = as_hub_snapshot(tiny_model, tmp_path / "hub")
    assert model_root(snapshot) == (tmp_path / "hub" / "models--org--tiny").resolve()
    assert problems(snapshot) == []
    assert read_bytes(snapshot, "config.json", 1 << 20) == (tiny_model / "config.json").read_bytes()


def test_a_snapshot_link_out_of_its_repo_folder_is_refused(tmp_path: Path, tiny_model: Path) -> None:
    snapshot = as_hub_snapshot(tiny_model, tmp_path / "hub")
    secret = secret_file(tmp_path / "home")
    replace_with_link(snapshot, "chat_template.jinja", secret)
    with pytest.raises(UnsafeModelFile, match=f"is a symbolic link to {secret}, outside the model directory"):
        require_contained(snapshot)


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("/proc/self/environ", "a live system file"),
        ("/dev/null", "a live system file"),
        ("/sys/kernel", "a live system file"),
        ("loop", "loops"),
    ],
)
def test_links_to_system_files_and_loops_are_refused(tmp_path: Path, target: str, words: str) -> None:
    directory = _model(tmp_path)
    replace_with_link(directory, "tokenizer_config.json", target)
    if target == "loop":
        replace_with_link(directory, "loop", "tokenizer_config.json")
    with pytest.raises(UnsafeModelFile, match=f"tokenizer_config.json in the model directory .* {words}"):
        contained_file(directory.resolve(), "tokenizer_config.json")
    assert any(e.name == "tokenizer_config.json" for e in problems(directory))


def test_a_socket_a_fifo_and_a_folder_linked_out_are_refused(tmp_path: Path) -> None:
    directory = _model(tmp_path)
    os.mkfifo(directory / "merges.txt")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(directory / "vocab.json"))
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        replace_with_link(directory, "additional_chat_templates", outside)
        found = {e.name: e.what for e in problems(directory)}
    finally:
        sock.close()
    assert "a FIFO (named pipe)" in found["merges.txt"] and "a socket" in found["vocab.json"]
    assert f"symbolic link to {outside.resolve()}" in found["additional_chat_templates"]


def test_a_template_linked_out_inside_the_templates_folder_is_refused(tmp_path: Path) -> None:
    directory = _model(tmp_path)
    replace_with_link(directory, "additional_chat_templates/tool_use.jinja", secret_file(tmp_path / "home"))
    assert [e.name for e in problems(directory)] == ["additional_chat_templates/tool_use.jinja"]


def test_the_root_may_not_be_a_system_directory() -> None:
    with pytest.raises(UnsafeModelFile, match="under /proc, /sys or /dev"):
        model_root(Path("/proc/self/fd"))


def test_the_vetted_copy_holds_regular_small_files_only_and_is_gone_after(tmp_path: Path) -> None:
    directory = _model(tmp_path)
    (directory / "real").mkdir()
    (directory / "real" / "chat.jinja").write_text("{{ messages }}")
    replace_with_link(directory, "chat_template.jinja", Path("real") / "chat.jinja")
    (directory / "additional_chat_templates").mkdir()
    (directory / "additional_chat_templates" / "tool_use.jinja").write_text("{{ tools }}")
    with vetted_copy(directory) as copy:
        names = sorted(str(p.relative_to(copy)) for p in copy.rglob("*"))
        assert names == [
            "additional_chat_templates",
            "additional_chat_templates/tool_use.jinja",
            "chat_template.jinja",
            "config.json",
            "tokenizer.json",
        ]  # no weights, no other folder
        assert not any(p.is_symlink() for p in copy.rglob("*"))
        assert (copy / "chat_template.jinja").read_text() == "{{ messages }}"
        assert stat.S_IMODE(copy.stat().st_mode) == 0o700
    assert not copy.exists()


def test_the_vetted_copy_refuses_a_directory_with_a_link_out(tmp_path: Path) -> None:
    directory = _model(tmp_path)
    replace_with_link(directory, "README.md", secret_file(tmp_path / "home"))
    with (
        pytest.raises(UnsafeModelFile, match="README.md in the model directory") as info,
        vetted_copy(directory),
    ):
        pass
    assert CANARY not in str(info.value) and isinstance(info.value, HubError)
