"""``byom.data`` loads a module on the first use of one of its names: each name it exports is one its home module
declares, and the checker alone does not load the token statistics and the previews."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import byom.data


@pytest.mark.parametrize("name", sorted(byom.data.__all__))
def test_each_name_is_its_home_modules(name: str) -> None:
    home = importlib.import_module(f"byom.data.{byom.data._HOME_OF[name]}")
    assert name in home.__all__ and getattr(byom.data, name) is getattr(home, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        byom.data.nothing  # noqa: B018


@pytest.mark.slow  # a fresh interpreter: this one has imported everything already
def test_the_checker_alone_loads_neither_token_statistics_nor_previews() -> None:
    code = "import json, sys\nfrom byom.data import check_file\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert "byom.data._check" in loaded
    assert not loaded & {"byom.data._tokens", "byom.data._checkup", "byom.data._render", "jinja2"}


@pytest.mark.slow  # a fresh interpreter
def test_a_checks_workers_start_before_pydantic_and_the_rules_are_loaded() -> None:
    """``check_file`` starts a big file's workers first and loads the rest of the checker while they scan: its
    module and the workers' (forked from it, or spawned) load neither pydantic nor the rules."""
    code = (
        "import json, sys\nfrom byom.data import check_file\nimport byom.data._scan\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    assert {"byom.data._check", "byom.data._scan", "byom.data._fast", "msgspec"} <= loaded
    assert not loaded & {"pydantic", "byom.data._report", "byom.data._rules", "byom.data._checker"}
