"""The fast tier (``pytest -m "not slow"``) reaches every module of the package.

A module nothing imports in the fast tier would break only in CI's full run, minutes later: an import error, a
cycle, a name a refactor moved. This test imports each module under ``src/byom`` by name, so the fast tier
covers all of them; a module that cannot be imported without a process or a GPU would say so here first.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import pytest

import byom


def _modules() -> list[str]:
    found = [info.name for info in pkgutil.walk_packages(byom.__path__, prefix="byom.")]
    assert len(found) > 100, found  # the walk found the package, not an empty or shadowed copy
    return sorted(found)


@pytest.mark.parametrize("name", [n for n in _modules() if not n.endswith("__main__")])
def test_every_module_imports(name: str) -> None:
    assert importlib.import_module(name).__name__ == name


def test_the_entry_points_are_modules_too() -> None:
    # ``__main__`` modules run their command on import; that they exist and parse is what the fast tier checks.
    mains = [n for n in _modules() if n.endswith("__main__")]
    assert mains
    for name in mains:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        compile(spec.loader.get_source(name) or "", name, "exec")  # type: ignore[attr-defined]
