"""The package's dependency rules, read from the source: imports point one way, privates stay private."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "byom"

# Which top-level packages each package may import (besides itself and the foundational modules every package
# may use: ``byom.errors``, ``byom.config``, ``byom.contained`` (the one rule for reading a model directory) and
# ``byom.untrusted`` (redaction, clipping and fencing of untrusted text)).
ALLOWED: dict[str, set[str]] = {
    "cli": {
        "server",
        "http_auth",
        "tools",
        "hub",
        "catalog",
        "together",
        "data",
        "engine",
        "prompts",
        "backend",
        "demo",
        "doctor",
        "__init__",
    },
    "demo": {
        "engine",
        "together",
    },  # drives byom-mcp as a host does; the tiny model comes from the engine's kit
    "doctor": {"backend", "engine"},  # reads the engine's lock holder and device probe, never starts it
    "server": {
        "http_auth",
        "tools",
        "prompts",
        "apps",
        "hub",
        "catalog",
        "together",
        "data",
        "backend",
        "__init__",
    },
    "tools": {
        "hub",
        "catalog",
        "together",
        "data",
        "backend",
        "ledger",
        "confirmed",
        "jobs",
        "endpoints",
        "triage",
        "evaluate",
        "storage",  # the stored tools/list answer is a private file
    },
    "prompts": set(),
    "apps": set(),  # the MCP App views: HTML documents, bound to tools by name
    "hub": set(),
    "catalog": {"hub", "together"},  # the live catalog refresh asks Together's API
    "data": set(),
    "together": set(),
    "storage": set(),
    "http_auth": {"storage"},  # the generated MCP token is a private file, like the engine's key
    "contained": set(),  # foundational: errors only, so every package can use it
    "ledger": {"storage"},
    "backend": {"together", "storage"},
    # The confirmed operations' plan base, spending check, lost-create recovery and polling.
    "confirmed": {"backend", "ledger", "together"},
    "jobs": {"hub", "catalog", "together", "data", "ledger", "backend", "confirmed", "triage"},
    "endpoints": {
        "together",
        "ledger",
        "backend",
        "confirmed",
        "hub",
        "storage",
    },  # hub: the memory a model needs
    # evaluate_model's workflow: the plan (its data files as a create's, via jobs; a judged one's prompts, a
    # private cache file), the run and the report.
    "evaluate": {"together", "data", "storage", "ledger", "backend", "confirmed", "jobs"},
    "engine": {"catalog", "data", "hub", "storage"},
    "triage": {"together", "hub", "catalog"},
}
DOMAIN = (
    "hub",
    "catalog",
    "data",
    "together",
    "engine",
    "storage",
    "ledger",
    "backend",
    "confirmed",
    "jobs",
    "endpoints",
    "evaluate",
    "triage",
)


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        out.append((".".join(["byom", *parts]), path))
    return out


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = _modules()


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_one_way(module: str, path: Path) -> None:
    own = _package(module)
    if own not in ALLOWED:
        return
    allowed = ALLOWED[own] | {own, "errors", "config", "contained", "untrusted"}
    for name in _imports(path):
        if not name.startswith("byom."):
            continue
        target = _package(name)
        if target == "__version__":
            continue
        assert target in allowed, f"{module} imports {name}: {own} may import only {sorted(allowed)}"


@pytest.mark.parametrize(("module", "path"), MODULES, ids=[m for m, _ in MODULES])
def test_no_module_imports_another_packages_privates(module: str, path: Path) -> None:
    own = module.split(".")[:2]
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] != "byom" or parts[:2] == own:
            continue
        private = [p for p in parts[2:] if p.startswith("_") and not p.startswith("__")]
        assert not private, f"{module} imports {name}, a private module of byom.{parts[1]}"


@pytest.mark.parametrize(("module", "path"), [(m, p) for m, p in MODULES if _package(m) in DOMAIN])
def test_domain_packages_never_import_mcp(module: str, path: Path) -> None:
    for name in _imports(path):
        assert name.split(".")[0] != "mcp", f"{module} imports {name}: domain code must not depend on mcp"


def test_together_and_engine_import_each_other_nowhere() -> None:
    for module, path in MODULES:
        pkg = _package(module)
        for name in _imports(path):
            if pkg == "together":
                assert not name.startswith("byom.engine"), f"{module} imports {name}"
            if pkg == "engine":
                assert not name.startswith(("byom.together", "byom.cli", "byom.server", "byom.tools")), (
                    f"{module} imports {name}"
                )


def test_no_two_test_files_share_a_name() -> None:
    """The tests folders are not packages: pytest collects two files of one name in one run only by failing
    ("import file mismatch"), which a run of a single folder never shows."""
    names: dict[str, list[str]] = {}
    for path in Path(__file__).parent.rglob("test_*.py"):
        names.setdefault(path.name, []).append(str(path.relative_to(Path(__file__).parent)))
    assert not {name: paths for name, paths in names.items() if len(paths) > 1}
