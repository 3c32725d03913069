"""Property-based fuzzing helpers shared by the tool and engine-route fuzz tests: one deterministic hypothesis
profile, hostile values, and a strategy per JSON schema (a tool's input schema) that mixes valid shapes with
hostile ones.

Determinism: ``derandomize=True`` and ``database=None`` make every run draw the same examples, so a fuzz test
either always passes or always fails on a given tree (never flaky); ``deadline=None`` because a loaded CI
machine's timing is no property of the code (each call has its own, generous time bound instead).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "FUZZ",
    "HOSTILE_STRINGS",
    "SECRET_MARKS",
    "Coverage",
    "arguments_for_schema",
    "fuzz_settings",
    "hostile_json",
    "hostile_strings",
    "huge_strings",
    "placed",
    "strategy_for_schema",
]

settings.register_profile(
    "byom-fuzz",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=20,
    print_blob=False,
    # The fixtures (an engine, an MCP client) are built once per test on purpose and shared by its examples.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
FUZZ = settings.get_profile("byom-fuzz")


def fuzz_settings(max_examples: int) -> settings:
    """The fuzz profile with this test's example budget (sized so the fuzz files add ~90 s to a loaded CI run)."""
    return settings(FUZZ, max_examples=max_examples)


# Values any text field may meet: control and format characters, bidi overrides, emoji sequences, lone UTF-16
# surrogates (what a JSON "\ud800" escape decodes to), traversal, shell and template syntax, odd repo ids.
HOSTILE_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u202eevil\u202c.jsonl",
    "\u200f\u0645\u0631\u062d\u0628\u0627",
    "\U0001f600" * 8,
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\ufeffbom",
    "line\r\nbreak",
    "%00",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "../../etc/passwd",
    "../../../../../../etc/shadow",
    "/etc/passwd",
    "/dev/zero",
    "/dev/stdin",
    "/proc/self/environ",
    "/proc/self/fd/0",
    "/tmp/a\x00b.jsonl",
    "/tmp/\ud800.jsonl",
    "/tmp/" + "n" * 300 + ".jsonl",
    "/tmp/" + "d/" * 2000 + "x.jsonl",
    "/" + "\U0001f600" * 100 + ".parquet",
    "~no-such-user-byom/x.jsonl",
    "~root/.ssh/id_rsa",
    "~/.aws/credentials.jsonl",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.jsonl",
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    "a/b/c",
    "..",
    ".",
    "-x",
    "--help",
    "org/",
    "/org",
    "org//name",
    "org/name@",
    "org/name@../../x",
    "org/name@" + "r" * 300,
    "a" * 300,
    "o" * 150 + "/" + "n" * 149,
    "ft-00000000-0000-0000-0000-000000000000",
    "ft-../../x",
    "ml_x",
    "ep_x",
    "null",
    "NaN",
    "Infinity",
    "{}",
    "[]",
    "${HOME}",
    "$(id)",
    "`id`",
    "'; DROP TABLE jobs; --",
    "%s%s%n",
    "{0}{1}",
    "{{7*7}}",
    "<script>alert(1)</script>",
)

# What a secret leaking through the MCP server's last filter looks like: the filter replaces it with this.
SECRET_MARKS = ("[redacted]",)


def huge_strings() -> st.SearchStrategy[str]:
    """Strings up to ~100 KB, cheap to draw (a repeated unit, not 100k drawn characters)."""
    units = st.sampled_from(["x", "é", "\U0001f600", "a\n", "\x00", "../", "\u202e"])
    return st.builds(lambda unit, n: unit * n, units, st.sampled_from([257, 4097, 65_537, 100_000]))


def hostile_strings(extra: Iterable[str] = ()) -> st.SearchStrategy[str]:
    """Hostile strings, alone and spliced onto one another (``/real/dir/`` + NUL, a valid path + ``/../..``)."""
    pool = st.sampled_from(HOSTILE_STRINGS + tuple(extra))
    return st.one_of(
        pool,
        st.builds(lambda a, b: a + b, pool, pool),
        st.text(max_size=40),
        st.text(st.characters(codec="utf-8"), max_size=20),
        huge_strings(),
    )


HUGE_INTS = (2**63, 2**63 - 1, -(2**63), 2**64, -1, 0, 10**100)
ODD_FLOATS = (math.inf, -math.inf, math.nan, -0.0, 1e308, 5e-324)


def hostile_scalars(extra: Iterable[str] = ()) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(HUGE_INTS),
        st.integers(),
        st.sampled_from(ODD_FLOATS),
        st.floats(),
        hostile_strings(extra),
    )


def hostile_json(extra: Iterable[str] = ()) -> st.SearchStrategy[Any]:
    """Any JSON-ish value: scalars, empty and small nested objects and lists (inf/NaN included)."""
    return st.recursive(
        hostile_scalars(extra),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    )


def _strategy_for_type(schema: dict[str, Any], strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    if kind == "string":
        return strings
    if kind == "integer":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        edges = [v for v in (lo, hi) if v is not None]
        edges += [v + d for v in edges for d in (-1, 1)]
        return st.one_of(st.integers(lo, hi), st.sampled_from(edges or [0]), st.sampled_from(HUGE_INTS))
    if kind == "number":
        lo, hi = schema.get("minimum", schema.get("exclusiveMinimum")), schema.get("maximum")
        return st.one_of(st.floats(lo, hi, allow_nan=False), st.sampled_from(ODD_FLOATS))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return hostile_json()


def strategy_for_schema(schema: dict[str, Any], strings: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Values for one JSON-schema property: its own shape (enums, bounds and their neighbours, any string from
    ``strings``) half the time, anything hostile the other half."""
    if "anyOf" in schema:
        own = st.one_of([strategy_for_schema(s, strings) for s in schema["anyOf"]])
    elif "enum" in schema:
        own = st.sampled_from(schema["enum"])
    elif "const" in schema:
        own = st.just(schema["const"])
    else:
        own = _strategy_for_type(schema, strings)
    return st.one_of(own, hostile_json())


def arguments_for_schema(
    schema: dict[str, Any], strings: st.SearchStrategy[str], valid: dict[str, Any] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """A tool's arguments: each property present or not (required ones too), plus an unknown key now and then;
    or, to reach past the argument checks, ``valid`` arguments with one or two of them replaced."""
    props: dict[str, Any] = schema.get("properties", {})
    value = {name: strategy_for_schema(sub, strings) for name, sub in props.items()}
    known = st.fixed_dictionaries({}, optional=value)
    extra = st.dictionaries(st.text(max_size=12).filter(lambda k: k not in props), hostile_json(), max_size=2)
    anything = st.builds(lambda a, b: {**b, **a}, known, st.one_of(st.just({}), extra))
    if valid is None or not props:
        return anything
    base = dict(valid)
    changed = st.lists(st.sampled_from(sorted(props)), min_size=1, max_size=2, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({n: value[n] for n in names})
    )
    return st.one_of(anything, st.just(base), changed.map(lambda c: {**base, **c}))


def placed(value: Any, paths: dict[str, str]) -> Any:
    """``value`` with every placeholder (a key of ``paths``, e.g. ``@@train.jsonl@@``) replaced by its value:
    strategies are built before any fixture exists, and refer to its files and ids this way."""
    if isinstance(value, str):
        for mark, real in paths.items():
            value = value.replace(mark, real)
        return value
    if isinstance(value, list | tuple):
        return type(value)(placed(v, paths) for v in value)
    if isinstance(value, dict):
        return {placed(k, paths): placed(v, paths) for k, v in value.items()}
    return value


class Coverage:
    """Counts the cases each fuzz target ran, for the report and for the coverage assertions."""

    def __init__(self) -> None:
        self.cases: dict[str, int] = {}
        self.refused: dict[str, int] = {}  # of those, the ones that ended in an error (result or 4xx)

    def hit(self, target: str, *, refused: bool) -> None:
        self.cases[target] = self.cases.get(target, 0) + 1
        self.refused[target] = self.refused.get(target, 0) + refused

    def summary(self, targets: Iterable[str]) -> str:
        return ", ".join(f"{t}: {self[t]} ({self.refused.get(t, 0)} refused)" for t in targets)

    def __getitem__(self, target: str) -> int:
        return self.cases.get(target, 0)
