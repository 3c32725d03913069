"""Tokenizer files and chat templates: a checkpoint without a loadable tokenizer is not compatible."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_hub_local import _write_model
from tokenizers import Tokenizer
from tokenizers.models import WordLevel

from byom.errors import HubError
from byom.hub import HubInspector, chat_template_present, tokenizer_problem
from support.fakehub import FakeHub, FakeRepo, json_bytes
from support.hubrepos import SMOL_CONFIG, SMOL_PARAMS


def _finding(report, check):  # type: ignore[no-untyped-def]
    return next(f for f in report.findings if f.check == check)


def _real_tokenizer(directory: Path) -> None:
    vocab = {"[UNK]": 0, "hello": 1, "world": 2}
    Tokenizer(WordLevel(vocab, unk_token="[UNK]")).save(str(directory / "tokenizer.json"))


def test_local_model_without_tokenizer_files_is_incompatible(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "m")
    (directory / "tokenizer.json").unlink()
    report = inspector.inspect(str(directory))
    finding = _finding(report, "tokenizer")
    assert finding.status == "fail" and report.verdict == "incompatible"
    assert "tokenizer.json" in finding.evidence and "save_pretrained" in (finding.fix or "")


@pytest.mark.parametrize("files", [["tokenizer.json"], ["tokenizer.model"], ["vocab.json", "merges.txt"]])
def test_any_loadable_tokenizer_passes(inspector: HubInspector, tmp_path: Path, files: list[str]) -> None:
    directory = _write_model(tmp_path / "m")
    (directory / "tokenizer.json").unlink()
    for name in files:
        (directory / name).write_text("{}")
    report = inspector.inspect(str(directory))
    assert _finding(report, "tokenizer").status == "pass" and report.verdict == "compatible"
    assert tokenizer_problem(directory) is None


def test_vocab_without_merges_is_not_loadable(tmp_path: Path) -> None:
    (tmp_path / "vocab.json").write_text("{}")
    problem = tokenizer_problem(tmp_path)
    assert problem is not None and "no tokenizer files" in problem and "save_pretrained" in problem


def test_tokenizer_problem_accepts_a_real_tokenizer(tmp_path: Path) -> None:
    assert tokenizer_problem(tmp_path) is not None
    _real_tokenizer(tmp_path)
    assert tokenizer_problem(tmp_path) is None


def test_tokenizer_problem_on_a_missing_directory_is_a_hub_error(tmp_path: Path) -> None:
    with pytest.raises(HubError):
        tokenizer_problem(tmp_path / "missing")


def test_tokenizer_outside_the_directory_does_not_count(tmp_path: Path) -> None:
    _real_tokenizer(tmp_path)
    model = tmp_path / "model"
    model.mkdir()
    (model / "tokenizer.json").symlink_to(tmp_path / "tokenizer.json")
    assert tokenizer_problem(model) is not None


def test_missing_tokenizer_config_is_a_warning(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "m")
    (directory / "tokenizer_config.json").unlink()
    report = inspector.inspect(str(directory))
    assert _finding(report, "tokenizer").status == "warn"
    assert _finding(report, "chat_template").status == "warn" and not report.has_chat_template


def test_adapter_without_tokenizer_uses_the_base_one(inspector: HubInspector, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "base_model_name_or_path": "x/y"})
    )
    report = inspector.inspect(str(adapter))
    assert _finding(report, "tokenizer").status == "info"


def test_chat_template_present(tmp_path: Path) -> None:
    assert not chat_template_present(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 10}))
    assert not chat_template_present(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    assert chat_template_present(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("not json")
    assert not chat_template_present(tmp_path)
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    assert chat_template_present(tmp_path)


def test_template_file_counts_for_inspection(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "m")
    (directory / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 256}))
    assert not inspector.inspect(str(directory)).has_chat_template
    (directory / "chat_template.jinja").write_text("{{ messages }}")
    report = inspector.inspect(str(directory))
    assert report.has_chat_template and _finding(report, "chat_template").status == "pass"


def test_hub_repo_without_tokenizer_files_is_incompatible(inspector: HubInspector, hub: FakeHub) -> None:
    hub.add(
        FakeRepo(
            "org/no-tokenizer",
            {"config.json": json_bytes(SMOL_CONFIG), "model.safetensors": b""},
            safetensors={"parameters": {"BF16": SMOL_PARAMS}, "total": SMOL_PARAMS},
        )
    )
    report = inspector.inspect("org/no-tokenizer")
    assert _finding(report, "tokenizer").status == "fail" and report.verdict == "incompatible"
    assert len(hub.requests) <= 4


def test_hub_repo_with_slow_tokenizer_files_passes(inspector: HubInspector, hub: FakeHub) -> None:
    hub.add(
        FakeRepo(
            "org/slow-tokenizer",
            {
                "config.json": json_bytes(SMOL_CONFIG),
                "model.safetensors": b"",
                "vocab.json": b"{}",
                "merges.txt": b"",
                "tokenizer_config.json": json_bytes({"chat_template": "{{ messages }}"}),
            },
            safetensors={"parameters": {"BF16": SMOL_PARAMS}, "total": SMOL_PARAMS},
        )
    )
    report = inspector.inspect("org/slow-tokenizer")
    assert _finding(report, "tokenizer").status == "pass" and report.has_chat_template
