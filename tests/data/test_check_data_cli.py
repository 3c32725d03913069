"""`byom check-data FILE [--model M] [--json]`: readable output, JSON, exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from byom.cli import main

OK = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}


def _file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_readable_problems_and_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, json.dumps(OK), "nope", json.dumps({"messages": [OK["messages"][0]]}))
    with pytest.raises(SystemExit) as exc:
        main(["check-data", str(path)])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "NOT valid" in out and "format conversation" in out
    assert "line 2 json:" in out and "line 3 [messages] no_assistant:" in out and "Fix:" in out


def test_json_with_token_stats_and_preview(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, json.dumps(OK), json.dumps(OK))
    main(["check-data", str(path), "--model", str(tiny_model), "--max-seq-length", "64", "--json"])
    body = json.loads(capsys.readouterr().out)
    assert body["report"]["valid"] is True and body["report"]["nlines"] == 2
    assert body["token_stats"]["samples"] == 2 and body["token_stats"]["over_max_seq_length"] == 0
    assert "⟦yo<|eos|>" in body["preview"][0]["rendered"]


def test_write_converted_and_method(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, json.dumps({"prompt": "2+2?", "chosen": "4", "rejected": "5"}))
    with pytest.raises(SystemExit):
        main(["check-data", str(path), "--method", "dpo"])
    assert "TRL preference" in capsys.readouterr().out
    target = tmp_path / "together.jsonl"
    main(["check-data", str(path), "--method", "dpo", "--write-converted", str(target)])
    out = capsys.readouterr().out
    assert "together.jsonl: valid" in out and "format preference" in out and "Wrote 1 row converted" in out
    assert json.loads(target.read_text())["preferred_output"] == [{"role": "assistant", "content": "4"}]
