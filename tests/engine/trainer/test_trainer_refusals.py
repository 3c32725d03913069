"""Jobs the trainer refuses before it loads any weights, checked in-process with its own ``prepare``.

The same checks as a trainer process runs (``_main._run`` calls ``prepare`` first) and the same error line the
engine gets (``root_error_line``), without starting a process only to watch it refuse.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from byom.engine.tiny import write_overfit_dataset
from byom.engine.trainer import TrainSpec
from byom.engine.trainer._main import Stage, prepare
from byom.engine.trainer._progress import ProgressWriter
from byom.errors import TrainingError, root_error_line
from support.trainer import make_spec


def _refusal(spec: TrainSpec) -> tuple[str, str]:
    """The stage where ``prepare`` stopped and the root error line the trainer reports for it."""
    progress = ProgressWriter(spec.job_dir / "progress.jsonl")
    stage = Stage()
    try:
        with pytest.raises(TrainingError) as caught:
            prepare(spec, progress, stage)
    finally:
        progress.close()
    return stage.name, root_error_line(caught.value)


def test_missing_chat_template_fails_with_a_clear_root_line(
    tiny_model: Path, conv_data: Path, tmp_path: Path
) -> None:
    base = shutil.copytree(tiny_model, tmp_path / "base-no-template")
    (base / "chat_template.jinja").unlink()
    cfg = json.loads((base / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (base / "tokenizer_config.json").write_text(json.dumps(cfg))
    stage, line = _refusal(make_spec(tmp_path / "ft", base, conv_data))
    assert stage == "initialization"
    assert line.startswith("TrainingError: Tokenizer has no chat template")


def test_remote_code_model_is_refused(tiny_model: Path, conv_data: Path, tmp_path: Path) -> None:
    base = shutil.copytree(tiny_model, tmp_path / "base-custom")
    cfg = json.loads((base / "config.json").read_text())
    cfg.update(model_type="byom_custom_arch", auto_map={"AutoModelForCausalLM": "modeling_custom.CustomLM"})
    (base / "config.json").write_text(json.dumps(cfg))
    stage, line = _refusal(make_spec(tmp_path / "ft", base, conv_data))
    assert stage == "download" and "trust_remote_code" in line


def test_preference_data_with_sft_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    data = write_overfit_dataset(tmp_path / "pref.jsonl", n=4, fmt="preference")
    _, line = _refusal(make_spec(tmp_path / "ft", tiny_model, data))
    assert "preference data, which trains with DPO" in line


def test_invalid_training_file_names_the_line(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "ok"}\n{"text": 5}\n')
    _, line = _refusal(make_spec(tmp_path / "ft", tiny_model, data))
    assert "Line 2:" in line
