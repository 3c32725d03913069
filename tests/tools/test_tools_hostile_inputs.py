"""Hostile inspect_hf_model inputs end as error results that say what to fix, never the opaque SDK error; hostile
weights files end as an INCOMPATIBLE finding beside the other checks."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from byom.config import Settings
from byom.server import build_server
from support.fakehub import make_inspector

pytestmark = pytest.mark.anyio

_LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "transformers_version": "4.55.0"}


def _model(root: Path, config: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(_LLAMA) if config is None else config)
    (root / "tokenizer.json").write_text("{}")
    return root


def _weights(header: str) -> Callable[[Path], str]:
    def build(tmp: Path) -> str:
        root = _model(tmp / "m")
        raw = header.encode()
        (root / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 16)
        return str(root)

    return build


def _shape(shape: str) -> Callable[[Path], str]:
    return _weights(f'{{"w": {{"dtype": "F32", "shape": {shape}, "data_offsets": [0, 16]}}}}')


def _config(text: str) -> Callable[[Path], str]:
    return lambda tmp: str(_model(tmp / "m", text))


def _unreadable(tmp: Path) -> str:
    root = _model(tmp / "m")
    (root / "config.json").chmod(0)
    return str(root)


def _unreadable_dir(tmp: Path) -> str:
    root = _model(tmp / "m")
    root.chmod(0)
    return str(root)


def _symlink_out(tmp: Path) -> str:
    root = _model(tmp / "m")
    (root / "config.json").rename(tmp / "elsewhere.json")
    (root / "config.json").symlink_to(tmp / "elsewhere.json")
    return str(root)


def _loop(tmp: Path) -> str:
    root = _model(tmp / "m")
    (root / "config.json").unlink()
    (root / "config.json").symlink_to("config.json")
    return str(root)


def _fifo(tmp: Path) -> str:
    root = _model(tmp / "m")
    (root / "config.json").unlink()
    os.mkfifo(root / "config.json")
    return str(root)


def _typo(tmp: Path) -> str:
    _model(tmp / "tiny-model")
    return "tiny-modle"


_root = hasattr(os, "geteuid") and os.geteuid() == 0
_skip_as_root = pytest.mark.skipif(_root, reason="root reads files whatever their mode")

WEIGHT_CASES = [
    pytest.param(_shape("[1" + "0" * 30 + ", 4]"), "corrupt", id="huge-dim"),
    pytest.param(
        _weights('{"w": {"dtype": "F32", "shape": [1' + "0" * 5000 + '], "data_offsets": [0, 4]}}'),
        "unreadable safetensors header",
        id="huge-int-header",
    ),
    pytest.param(_shape("[Infinity]"), "corrupt", id="infinity-in-shape"),
    pytest.param(_shape('["4", "1"]'), "corrupt", id="string-in-shape"),
    pytest.param(_shape("[-5000000, 1000000]"), "corrupt", id="negative-shape"),
    pytest.param(_shape("[[2], 2]"), "corrupt", id="nested-shape"),
    pytest.param(
        _weights('{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": ["0", "16"]}}'),
        "corrupt",
        id="string-offsets",
    ),
    pytest.param(
        _weights('{"w": {"dtype": "F32", "shape": [10, 4], "data_offsets": [0, 160]}}'),
        "truncated",
        id="tensor-past-eof",
    ),
]
CASES = [
    pytest.param(_unreadable, "Permission denied", id="chmod-000-config", marks=_skip_as_root),
    pytest.param(_unreadable_dir, "Permission denied", id="chmod-000-dir", marks=_skip_as_root),
    pytest.param(lambda tmp: str(tmp / ("x" * 300)), "too long", id="name-too-long"),
    pytest.param(lambda tmp: str(tmp / ("x" * 300) / "y"), "too long", id="component-too-long"),
    pytest.param(lambda tmp: "~no-such-user-byom/x", "not an existing directory", id="unknown-user"),
    pytest.param(lambda tmp: str(tmp / "a\0b"), "not an existing directory", id="nul-in-path"),
    pytest.param(lambda tmp: "tiny\0model", "not a valid Hub repo id", id="nul-in-name"),
    pytest.param(_config('{"model_type": "llama",'), "not valid JSON", id="invalid-json"),
    pytest.param(_config("[1, 2, 3]"), "not an object", id="config-is-a-list"),
    pytest.param(_config('{"vocab_size": 1' + "0" * 5000 + "}"), "digits", id="config-huge-int"),
    pytest.param(_config("[" * 50_000 + "]" * 50_000), "nesting", id="config-deep-nesting"),
    pytest.param(
        _config(json.dumps(_LLAMA)[:-1] + " " * (4 * 1024 * 1024) + "}"), "4 MB", id="config-too-big"
    ),
    pytest.param(_config("\xff\xfe"), "not valid JSON", id="config-not-utf8-text"),
    pytest.param(_symlink_out, "outside the model directory", id="config-symlink-out"),
    pytest.param(_loop, "symbolic link that loops", id="symlink-loop"),
    pytest.param(_fifo, "not a regular file", id="config-fifo"),
    pytest.param(_typo, "did you mean", id="relative-typo"),
]


@pytest.mark.parametrize(("build", "expected"), WEIGHT_CASES)
async def test_hostile_weights_are_an_incompatible_finding(
    tmp_path: Path, build: Callable[[Path], str], expected: str
) -> None:
    settings = Settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    async with Client(build_server(settings, inspector=make_inspector(settings))) as client:
        result = await client.call_tool("inspect_hf_model", {"model": build(tmp_path)})
    assert not result.is_error and result.structured_content is not None
    report = result.structured_content
    (finding,) = [f for f in report["findings"] if f["check"] == "weights_integrity"]
    assert report["verdict"] == "incompatible" and expected in finding["evidence"] and finding["fix"]


@pytest.mark.parametrize(("build", "expected"), CASES)
async def test_hostile_input_is_a_clear_tool_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build: Callable[[Path], str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    model = build(tmp_path)
    settings = Settings(cache_dir=tmp_path / "cache", data_dir=tmp_path / "data")
    server = build_server(settings, inspector=make_inspector(settings))
    try:
        async with Client(server) as client:
            result = await client.call_tool("inspect_hf_model", {"model": model})
    finally:
        for path in (tmp_path / "m", tmp_path / "m" / "config.json"):
            if path.exists() and not path.is_symlink():
                path.chmod(0o755)
    assert result.is_error
    text = result.content[0].text
    # An unexpected exception reaches the model as this bare line, with nothing to act on.
    assert text.strip() != "Error executing tool inspect_hf_model"
    assert expected in text, text
