"""Property-based fuzzing of every engine route: hostile path ids, query parameters and bodies.

The routes come from the app's own route table, so a new route is fuzzed without an edit here (and
``test_every_route_was_fuzzed`` fails if one ran no examples). Each request gets hostile path parameters (odd
ids, traversal, ~100 KB, NUL, invalid UTF-8), query parameters (limit/after/cursor and every name the routes
read, with negative, huge, non-numeric values), and a body: hostile JSON (inf/NaN literals, lone-surrogate
escapes, deep nesting, 5000-digit numbers, duplicate keys), a route's valid body with one or two fields
replaced, raw bytes, or a multipart form with odd filenames and purposes. Properties, for every request:

- the status is below 500, and every 4xx body is the engine's error shape (``{"error": {"message", ...}}``);
- no body carries a traceback;
- the engine still answers ``/health``.

The engine's job runner is not started (as in ``support.faults.queued_engine``): a fuzzed body that is a valid
job stays queued and no trainer competes for the CPU; one real file and one real job give the id routes
something to find.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import anyio
import httpx2
import pytest

pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis (pip install -e '.[test]')")

from hypothesis import example, given
from hypothesis import strategies as st
from starlette.routing import Route

from byom.engine.app import create_app
from byom.engine.state import EngineState
from support.engine import AUTH, BASE_URL, TEMPLATE, job_body, make_state, upload
from support.fuzzing import Coverage, fuzz_settings, hostile_json, hostile_strings, placed

pytestmark = pytest.mark.anyio

EXAMPLES_PER_ROUTE = int(os.environ.get("BYOM_FUZZ_EXAMPLES", "12"))
REQUEST_BOUND_S = 30.0
# The route table only: the app is never served, so it needs no opened state.
ROUTES: list[tuple[str, str]] = sorted(
    (route.path, method)
    for route in create_app(cast(EngineState, None)).routes
    if isinstance(route, Route)
    for method in (route.methods or ()) - {"HEAD"}
)
# Every query parameter a route reads (grep query_params / int_query in byom/engine), and paging's usual ones.
QUERY_NAMES = (
    "limit", "after", "cursor", "pageSize", "pageToken", "token", "etag", "filter", "orderBy", "updateMask",
    "validateOnly", "visibility", "revisionId", "referenceModel", "referenceModelId", "minLevel",
    "deploymentIds", "types", "model_name", "ft_id", "checkpoint", "checkpoint_step", "search", "product",
    "global_step_from", "global_step_to", "resolution", "logged_at_from", "logged_at_to",
)  # fmt: skip
QUERY_VALUES = (
    "-1", "0", "1", "9223372036854775808", "-9223372036854775809", "1" + "0" * 30, "1e3", "0x10", "NaN",
    "inf", "abc", "", " ", "true", "null", "[]", "{}", "2026-13-45T99:99:99Z", "@@file@@", "@@job@@",
)  # fmt: skip
IDS = ("@@file@@", "@@job@@", "proj_local", "local", "file-", "ft-", "ep_", "dep_", "ml_", "%2e%2e")
RAW_BODIES = (
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"NaN",
    b'{"a": Infinity, "b": -Infinity, "c": NaN}',
    b'{"model": "\\ud800", "messages": [{"role": "user", "content": "\\udfff"}]}',
    b"\xff\xfe\x00\x01",
    b"\x00",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    b'{"n_epochs": 1' + b"0" * 5_000 + b"}",
    b'{"model": "a", "model": "b"}',
    b'{"model": "' + b"x" * 100_000 + b'"}',
)
CONTENT_TYPES = (
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "application/json; charset=latin-1",
    None,
)
# Valid bodies of the routes that take one, so that a variant (one or two fields replaced) reaches the route's
# own checks past the schema.
CHAT = {"model": TEMPLATE, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
VALID_BODIES: dict[str, dict[str, Any]] = {
    "/v1/fine-tunes": job_body("@@file@@", Path("@@model@@")),
    "/v1/fine-tunes/estimate-price": job_body("@@file@@", Path("@@model@@")),
    "/v1/fine-tunes/preview": job_body("@@file@@", Path("@@model@@")),
    "/v1/chat/completions": CHAT,
    "/v1/completions": {"model": TEMPLATE, "prompt": "hi", "max_tokens": 4},
    "/v2/projects/{pid}/endpoints": {"displayName": "fuzz", "model": "ml_x", "config": "cpu-1"},
    "/v1/files/multipart/initiate": {"file_name": "t.jsonl", "file_size": 10, "purpose": "fine-tune"},
}
FORM_FIELDS = ("purpose", "file_name", "file_type", "checksum", "file_size", "file")
COVERAGE = Coverage()
WALL_S: dict[str, float] = {}


@dataclass
class RouteFuzz:
    client: httpx2.AsyncClient = field(repr=False)
    ids: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Fuzzed:
    """One drawn request, before its placeholders are filled in."""

    path_values: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    body: Any  # bytes (sent raw), a dict of form fields (multipart), or JSON data
    content_type: str | None
    auth: bool


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def fuzz(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, overfit_bytes: bytes
) -> AsyncIterator[RouteFuzz]:
    """One engine for the module (runner not started), holding one real file and one queued job."""
    state = make_state(tmp_path_factory.mktemp("fuzz-routes"), tmp_path_factory.getbasetemp())
    app = create_app(state)
    try:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(
            transport=transport, base_url=BASE_URL, headers=AUTH, timeout=60
        ) as client:
            file_id = (await upload(client, overfit_bytes))["id"]
            job = await client.post("/v1/fine-tunes", json=job_body(file_id, tiny_model))
            assert job.status_code == 200, job.text
            yield RouteFuzz(
                client, {"@@file@@": file_id, "@@job@@": job.json()["id"], "@@model@@": str(tiny_model)}
            )
    finally:
        state.close()


# What each path parameter names when it is real (half the draws): the route then reaches its own checks.
REAL_IDS = {"file_id": "@@file@@", "job_id": "@@job@@", "pid": "proj_local", "model_id": TEMPLATE}


def _requests(path: str) -> st.SearchStrategy[Fuzzed]:
    odd = st.one_of(st.sampled_from(IDS), hostile_strings(IDS))
    params = re.findall(r"\{(\w+)", path)
    path_values = st.tuples(*(st.one_of(st.just(REAL_IDS[p]), odd) if p in REAL_IDS else odd for p in params))
    query = st.lists(
        st.tuples(
            st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=10)),
            st.one_of(st.sampled_from(QUERY_VALUES), hostile_strings()),
        ),
        max_size=4,
    )
    valid = VALID_BODIES.get(path)
    bodies: list[st.SearchStrategy[Any]] = [
        st.sampled_from(RAW_BODIES),
        hostile_json(),
        st.dictionaries(st.sampled_from(FORM_FIELDS), hostile_strings(), max_size=len(FORM_FIELDS)),
    ]
    if valid:
        bodies.append(
            st.lists(st.sampled_from(sorted(valid)), min_size=1, max_size=2, unique=True).flatmap(
                lambda names: st.fixed_dictionaries({n: hostile_json() for n in names}).map(
                    lambda changed: {**valid, **changed}
                )
            )
        )
        bodies.append(st.just(valid))
    return st.builds(
        Fuzzed,
        path_values=path_values,
        query=query.map(tuple),
        body=st.one_of(bodies),
        content_type=st.sampled_from(CONTENT_TYPES),
        auth=st.sampled_from([True, True, True, False]),  # now and then no key: the 401 path
    )


def _escaped(value: str) -> str:
    # Percent-encoded as raw bytes: a lone surrogate becomes the invalid UTF-8 a hostile client would send.
    # Cut to 1500 bytes: the client refuses a URL over 64 KiB (huge values go in the bodies instead).
    return quote(value.encode("utf-8", "surrogatepass")[:1500], safe="")


def _url(path: str, values: tuple[str, ...], query: tuple[tuple[str, str], ...]) -> str:
    """The route's path with each ``{param}`` replaced by a drawn value, and the drawn query string."""
    out, rest = "", path
    for value in values:
        head, brace, tail = rest.partition("{")
        if not brace:
            break
        out += head + (_escaped(value) or "%20")
        rest = tail.partition("}")[2]
    qs = "&".join(f"{_escaped(k)}={_escaped(v)}" for k, v in query)
    return out + rest + (f"?{qs}" if qs else "")


def _send_args(request: Fuzzed, ids: dict[str, str]) -> dict[str, Any]:
    headers = {} if request.auth else {"Authorization": ""}
    body = placed(request.body, ids)
    if isinstance(body, dict) and request.content_type == "multipart/form-data":
        # A form: odd field values, and a file part whose *filename* is the drawn value.
        files = {
            str(k).encode("utf-8", "surrogatepass").decode("utf-8", "replace"): (
                (str(v), b"{}\n") if k == "file" else (None, str(v).encode("utf-8", "surrogatepass"))
            )
            for k, v in body.items()
        }
        return {"headers": headers, "files": files or {"purpose": (None, b"fine-tune")}}
    if request.content_type:
        headers["Content-Type"] = request.content_type
    if isinstance(body, bytes):
        content = body
    else:
        # json.dumps writes NaN/Infinity literals and escapes lone surrogates (\ud800): what a raw client sends.
        content = json.dumps(body).encode()
    return {"headers": headers, "content": content}


def _assert_answer(label: str, response: httpx2.Response) -> None:
    text = response.text
    shown = f"{label} -> {response.status_code} {text[:500]}"
    assert response.status_code < 500, shown
    assert "Traceback" not in text and 'File "' not in text, shown
    if 400 <= response.status_code < 500:
        error = response.json()["error"]
        assert set(error) >= {"message", "type", "param", "code"}, shown
        assert isinstance(error["message"], str) and error["message"].strip(), shown


async def _send(fuzz: RouteFuzz, method: str, path: str, request: Fuzzed) -> None:
    url = _url(path, placed(request.path_values, fuzz.ids), placed(request.query, fuzz.ids))
    label = f"{method} {url[:300]} body={str(request.body)[:200]}"
    with anyio.fail_after(REQUEST_BOUND_S):
        response = await fuzz.client.request(method, url, **_send_args(request, fuzz.ids))
    _assert_answer(label, response)
    if os.environ.get("BYOM_FUZZ_TRACE"):
        print("FUZZ", response.status_code, label[:160].replace("\n", " "), "->", response.text[:120])
    with anyio.fail_after(REQUEST_BOUND_S):
        health = await fuzz.client.get("/health")
    assert health.status_code == 200, f"after {label}: {health.status_code} {health.text[:300]}"
    COVERAGE.hit(f"{method} {path}", refused=response.status_code >= 400)


# Defects the fuzzing found, replayed first on every run: (method, path) -> requests.
REGRESSIONS: dict[tuple[str, str], list[Fuzzed]] = {}


def _fuzz_test(method: str, path: str) -> Any:
    # One test per route, its requests drawn by @given before the test runs (see tests/tools/test_fuzz_tools.py:
    # a draw inside the async test that overruns would kill anyio's runner task).
    @fuzz_settings(EXAMPLES_PER_ROUTE)
    @given(request=_requests(path))
    async def test(fuzz: RouteFuzz, request: Fuzzed) -> None:
        started = time.monotonic()
        await _send(fuzz, method, path, request)
        WALL_S[f"{method} {path}"] = WALL_S.get(f"{method} {path}", 0.0) + time.monotonic() - started

    for regression in REGRESSIONS.get((method, path), []):
        test = example(request=regression)(test)
    test.__name__ = test.__qualname__ = _test_name(method, path)
    test.__doc__ = f"{method} {path}: every fuzzed request ends below 500 in the engine's error shape."
    return test


def _test_name(method: str, path: str) -> str:
    return "test_fuzzed_" + method.lower() + re.sub(r"\W+", "_", path).rstrip("_")


for _path, _method in ROUTES:
    globals()[_test_name(_method, _path)] = _fuzz_test(_method, _path)


async def test_every_route_was_fuzzed(fuzz: RouteFuzz, capsys: pytest.CaptureFixture[str]) -> None:
    """The route table the tests were generated from is the served app's, and each route ran its examples."""
    app = fuzz.client._transport.app  # type: ignore[attr-defined]
    served = sorted(
        (r.path, m) for r in app.routes if isinstance(r, Route) for m in (r.methods or ()) - {"HEAD"}
    )
    assert served == ROUTES
    # The route tests that ran in this process (with pytest-xdist, the others ran in another worker, whose
    # counts are not here): each ran all its examples.
    ran = [f"{m} {p}" for p, m in ROUTES if f"{m} {p}" in WALL_S]
    if not ran:
        pytest.skip("run together with the fuzz tests")
    with capsys.disabled():
        print(f"\nfuzz_routes cases ({sum(COVERAGE.cases.values())}) over {len(ran)} routes")
        print("fuzz_routes wall s:", round(sum(WALL_S.values()), 1))
    assert all(COVERAGE[r] >= EXAMPLES_PER_ROUTE for r in ran), {r: COVERAGE[r] for r in ran}
