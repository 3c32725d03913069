"""unpack: a downloaded archive becomes a model directory only when every member is a plain file or folder inside it."""

from __future__ import annotations

import importlib.util
import io
import tarfile
from pathlib import Path

import pytest

from byom.endpoints.trylocal import unpack
from byom.errors import TogetherAPIError


def _archive(path: Path, *members: tarfile.TarInfo, data: bytes = b"{}") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if member.isfile():
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def _info(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mode = 0o644 if kind != tarfile.DIRTYPE else 0o755
    return info


def test_an_adapter_archive_unpacks_to_its_model_folder(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "a.tar.gz",
        _info("my-ft-adapter", tarfile.DIRTYPE),
        _info("my-ft-adapter/adapter_config.json"),
    )
    dest = tmp_path / "out"
    dest.mkdir()
    assert unpack(archive, dest) == dest / "my-ft-adapter"


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (_info("/etc/evil.json"), "an absolute or '..' path"),
        (_info("model/../../evil.json"), "an absolute or '..' path"),
        (_info("model/config.json", tarfile.SYMTYPE, "/home/user/.ssh/id_rsa"), "a link"),
        (_info("model/weights", tarfile.LNKTYPE, "model/config.json"), "a link"),
        (_info("model/fifo", tarfile.FIFOTYPE), "neither a file nor a folder"),
    ],
    ids=["absolute", "dotdot", "symlink", "hardlink", "fifo"],
)
def test_an_unsafe_member_refuses_the_archive(tmp_path: Path, member: tarfile.TarInfo, problem: str) -> None:
    archive = _archive(tmp_path / "bad.tar.gz", _info("model/config.json"), member)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(TogetherAPIError, match=f"is {problem}"):
        unpack(archive, dest)
    assert not (tmp_path / "evil.json").exists() and not Path("/etc/evil.json").exists()


def test_an_archive_with_no_model_is_refused(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "a.tar.gz", _info("notes.txt"))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(TogetherAPIError, match="not a model"):
        unpack(archive, dest)


@pytest.mark.skipif(importlib.util.find_spec("zstandard") is not None, reason="zstandard is installed here")
def test_a_zstd_archive_without_zstandard_says_what_to_install(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.zst"
    archive.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 16)
    with pytest.raises(TogetherAPIError, match="pip install zstandard"):
        unpack(archive, tmp_path)
