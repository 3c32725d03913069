"""patterns.yaml: ships with the package, validates, and a broken edit fails loudly with the entry named."""

from __future__ import annotations

import re

import pytest

from byom.errors import CatalogError
from byom.triage import CATEGORIES, load_patterns, parse_patterns

_ROW = """
  - id: {id}
    match: [{regex}]
    category: {category}
    cause: Something specific went wrong here.
    fixes: [Do the thing.]
    retryable: false
    source: a test
    checked_on: 2026-12-01
"""


def _yaml(*rows: dict[str, str]) -> str:
    defaults = {"regex": "'boom'", "category": "internal"}
    return "version: 1\npatterns:" + "".join(_ROW.format(**{**defaults, **r}) for r in rows)


def test_the_shipped_catalogue_validates() -> None:
    catalog = load_patterns()
    ids = [p.id for p in catalog.patterns]
    assert len(ids) >= 45
    assert len(ids) == len(set(ids))
    for pattern in catalog.patterns:
        assert pattern.category in CATEGORIES and pattern.category != "unknown"
        assert pattern.source.strip() and pattern.fixes and pattern.cause
        for regex in pattern.match:
            re.compile(regex, re.IGNORECASE)


def test_every_category_but_unknown_has_a_pattern() -> None:
    used = {p.category for p in load_patterns().patterns}
    assert used == set(CATEGORIES) - {"unknown"}


def test_duplicate_ids_are_refused_by_name() -> None:
    with pytest.raises(CatalogError, match="duplicate pattern id 'twice'"):
        parse_patterns(_yaml({"id": "twice"}, {"id": "twice"}))


def test_a_bad_regex_names_the_pattern() -> None:
    with pytest.raises(CatalogError, match=r"pattern 'broken'.*does not compile"):
        parse_patterns(_yaml({"id": "ok"}, {"id": "broken", "regex": "'(unclosed'"}))


def test_an_unknown_category_is_refused() -> None:
    with pytest.raises(CatalogError, match="pattern 'odd'.*category"):
        parse_patterns(_yaml({"id": "odd", "category": "gremlins"}))


def test_yaml_syntax_errors_say_the_line() -> None:
    with pytest.raises(CatalogError, match=r"invalid: .*\(line \d+\)"):
        parse_patterns("patterns:\n  - id: [unclosed\n")


def test_the_yaml_is_package_data() -> None:
    from importlib import resources

    assert resources.files("byom.triage").joinpath("patterns.yaml").is_file()
