"""Data paths a model may pass to create_finetune / check_training_data: odd ones are preflight errors that say
what to pass, never an exception out of the tool (found by tests/tools/test_fuzz_tools.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from byom.data import is_local_path, local_data_path
from byom.errors import PreflightError


@pytest.mark.parametrize("given", ["/tmp/a\0b.jsonl", "a\0b.jsonl", "\0"])
def test_a_nul_in_a_data_path_is_a_preflight_error(given: str) -> None:
    with pytest.raises(PreflightError, match="NUL character"):
        local_data_path(given, "training")


def test_a_bare_name_too_long_for_a_file_is_not_a_local_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file-abc").write_text("")
    assert is_local_path("file-abc")  # an existing bare name is still a local file
    assert not is_local_path("x" * 300)  # over NAME_MAX: a file id to look up, not an OSError
    assert not is_local_path("file-\0")
