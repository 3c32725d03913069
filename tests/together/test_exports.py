"""``byom.together`` exports exactly what its modules declare: each module's ``__all__`` is its promise to the
package, and the package's list is built from them, so a shape added to a module is exported by adding it there."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import byom.together

MODULES = sorted(f"byom.together.{info.name}" for info in pkgutil.iter_modules(byom.together.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_every_module_declares_what_it_exports_and_the_package_exports_it(name: str) -> None:
    module = importlib.import_module(name)
    declared = getattr(module, "__all__", None)
    assert declared is not None, (
        f"{name} has no __all__: say what it gives the package (an empty list if nothing)"
    )
    for export in declared:
        assert hasattr(module, export), f"{name}.__all__ names {export}, which it does not define"
        assert export in byom.together.__all__, (
            f"{name}.__all__ names {export}, which byom.together does not export"
        )
        assert getattr(byom.together, export) is getattr(module, export)


def test_the_package_exports_each_name_once_and_only_names_of_its_modules() -> None:
    exported = byom.together.__all__
    assert len(exported) == len(set(exported))
    declared = {n for name in MODULES for n in importlib.import_module(name).__all__}
    assert set(exported) == declared


def test_what_other_packages_import_is_still_exported() -> None:
    from byom.together import (  # noqa: F401
        TERMINAL_STATUSES,
        AdapterClusterState,
        DeploymentAdapter,
        ErrorBody,
        FinetuneRequest,
        TogetherClient,
        error_from_response,
        file_checksum,
    )
