"""Property-based fuzzing of every tool's arguments through a real MCP client.

Each tool's arguments are drawn from its own input schema (so a new tool or argument is fuzzed without an edit
here), mixing valid shapes with hostile ones: wrong types, missing and unknown keys, ~100 KB strings, NUL, lone
surrogates, bidi overrides and emoji, traversal, symlinks out of the data, /dev/zero, /proc/self/environ, a
FIFO, odd repo ids, huge and negative integers, inf/NaN, empty objects. The backend is the real engine
(in-process, runner started); the Hub is the in-process fake. Properties, for every call:

- it ends within ``CALL_BOUND_S`` in a result, or an error result with a message that is not the SDK's bare
  crash line ("Error executing tool X": an unexpected exception), and nothing is logged as a crash;
- no traceback, no credential (nor the server's ``[redacted]`` mark: the last filter caught a leak), no 500;
- the server still answers ``list_tools``;
- nothing that costs money exists afterwards: no fine-tune job and no endpoint (no call carries a real
  confirmation token, and the server does not auto-confirm).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis (pip install -e '.[test]')")

from hypothesis import example, given
from mcp import Client
from mcp.types import CallToolResult
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.app import create_app
from byom.engine.state import EngineState
from byom.server import TOOLS, build_server
from support.engine import BASE_URL, FAST_JOB, KEY, make_state
from support.fakehub import FakeHub, make_inspector
from support.fuzzing import (
    SECRET_MARKS,
    Coverage,
    arguments_for_schema,
    fuzz_settings,
    hostile_strings,
    placed,
)
from support.hubrepos import standard_repos
from support.tool_calls import text_of

pytestmark = pytest.mark.anyio

TOOL_NAMES = [t.name for t in TOOLS]
# Sized for CI (~1 s of calls per tool); BYOM_FUZZ_EXAMPLES=500 runs a longer, still deterministic, hunt.
EXAMPLES_PER_TOOL = int(os.environ.get("BYOM_FUZZ_EXAMPLES", "25"))
# Generous on a loaded 2-core machine (a tokenizer load, a data check); a hang is what it catches.
CALL_BOUND_S = 30.0
HF_CANARY = "hf_FUZZcanaryHubToken4a7c19"
WANDB_CANARY = "FUZZ-canary-wandb-key-b2d6e8"
CANARIES = (HF_CANARY, WANDB_CANARY, KEY)
# What no result may contain: a traceback, a secret, the engine's or an HTTP server's 500.
FORBIDDEN = (
    "Traceback",
    'File "',
    *CANARIES,
    *SECRET_MARKS,
    "Internal Server Error",
    "Internal error in the local engine",
    "server_error",
)
# The files of ``_hostile_files``: strategies hold these placeholders (drawn before any fixture exists) and a
# call replaces them with the module's real paths.
FILES = (
    "model",
    "model-parent",
    "model-link",
    "etc-model",
    "train.jsonl",
    "empty.jsonl",
    "garbage.jsonl",
    "dir.jsonl",
    ".hidden/x.jsonl",
    "fifo.jsonl",
    "passwd.jsonl",
    "zero.jsonl",
    "environ.jsonl",
    "loop.jsonl",
    "dangling.jsonl",
    "escape",
)
PLACEHOLDERS = {f"@@{name}@@": name for name in FILES}


def _input_schemas() -> dict[str, dict[str, Any]]:
    """Each tool's input schema, as a client lists it (no lifespan runs: nothing is opened or started)."""
    nowhere = Path("/nonexistent/byom-fuzz")
    server = build_server(Settings(data_dir=nowhere, cache_dir=nowhere, backend_choice="local"))
    return {t.name: t.input_schema for t in anyio.run(server.list_tools)}


SCHEMAS = _input_schemas()
FT = "ft-00000000-0000-0000-0000-000000000000"
# Arguments each tool accepts, so that a fuzzed variant (one or two replaced) gets past the argument checks
# into the tool's own code: the real model and data files, unknown but well-formed ids.
VALID: dict[str, dict[str, Any]] = {
    "inspect_hf_model": {"model": "@@model@@"},
    "recommend_base": {"model": "@@model@@"},
    "check_training_data": {"path": "@@train.jsonl@@", "model": "@@model@@"},
    "create_finetune": {"training_file": "@@train.jsonl@@", "from_hf_model": "@@model@@", **FAST_JOB},
    "job_status": {"job_id": FT},
    "list_jobs": {"limit": 5},
    "cancel_job": {"job_id": FT},
    "explain_error": {"error_text": "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"},
    "evaluate_model": {"model": FT, "data": "@@train.jsonl@@"},
    "deploy_endpoint": {"job_id": FT},
    "manage_endpoint": {"endpoint": "ep_x"},
    "ask_model": {"job_id": FT, "prompt": "What do bees make?", "max_tokens": 2},
}
STRINGS = hostile_strings(PLACEHOLDERS)
COVERAGE = Coverage()
WALL_S: dict[str, float] = {}


@dataclass
class ToolFuzz:
    client: Client = field(repr=False)
    state: EngineState = field(repr=False)
    paths: dict[str, str] = field(repr=False)
    crashes: list[logging.LogRecord] = field(default_factory=list, repr=False)


class _Crashes(logging.Handler):
    """Collects what the SDK and byom log as an unexpected exception (a crash the client only sees as a line)."""

    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def _hostile_files(root: Path, train: bytes, model: Path) -> dict[str, str]:
    """Paths a model may be talked into passing: real data and a real model, and every kind of trap."""
    root.mkdir(parents=True)
    (root / "train.jsonl").write_bytes(train)
    (root / "empty.jsonl").write_bytes(b"")
    (root / "garbage.jsonl").write_bytes(b"\xff\xfe\x00{not json\n" * 100)
    (root / "dir.jsonl").mkdir()
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.jsonl").write_bytes(train)
    links = {
        "passwd.jsonl": "/etc/passwd",
        "zero.jsonl": "/dev/zero",
        "environ.jsonl": "/proc/self/environ",
        "loop.jsonl": "loop.jsonl",
        "dangling.jsonl": "/no/such/file.jsonl",
        "etc-model": "/etc",
        "model-link": str(model),
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    os.mkfifo(root / "fifo.jsonl")
    paths = {name: str(root / name) for name in FILES}
    paths |= {
        "model": str(model),
        "model-parent": str(model.parent),
        "escape": f"{root}/{'../' * 12}etc/passwd",
    }
    return {mark: paths[name] for mark, name in PLACEHOLDERS.items()}


@pytest.fixture(scope="module")
async def fuzz(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, overfit_bytes: bytes
) -> AsyncIterator[ToolFuzz]:
    """One engine, one fake Hub, one MCP server and client for the whole module: every example hits the same
    long-lived server, as a host's conversation would."""
    root = tmp_path_factory.mktemp("fuzz-tools")
    paths = _hostile_files(root / "files", overfit_bytes, tiny_model)
    state = make_state(root / "engine", tmp_path_factory.getbasetemp())
    app = create_app(state)
    settings = Settings(
        data_dir=root / "byom",
        cache_dir=root / "byom-cache",
        engine_url=BASE_URL,
        engine_api_key=SecretStr(KEY),
        backend_choice="local",
        engine_autostart=False,
        hf_token=SecretStr(HF_CANARY),
        wandb_api_key=SecretStr(WANDB_CANARY),
    )
    crashes: list[logging.LogRecord] = []
    handler = _Crashes(crashes)
    logging.getLogger().addHandler(handler)
    try:
        with FakeHub(standard_repos()).installed():
            async with app.router.lifespan_context(app):
                server = build_server(
                    settings, inspector=make_inspector(settings), transport=httpx2.ASGITransport(app=app)
                )
                async with Client(server) as client:
                    yield ToolFuzz(client, state, paths, crashes)
    finally:
        logging.getLogger().removeHandler(handler)
        state.close()


@pytest.fixture(autouse=True)
def _canaries_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # What /proc/self/environ would show (the settings hold the same values). Not TOGETHER_API_KEY: the
    # backend is explicit here, and nothing may talk to Together's cloud.
    monkeypatch.setenv("HF_TOKEN", HF_CANARY)
    monkeypatch.setenv("WANDB_API_KEY", WANDB_CANARY)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _assert_clean(tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
    text = text_of(result)
    shown = f"{tool}({str(arguments)[:300]}) -> {text[:500]}"
    if result.is_error:
        assert text.strip(), shown
        assert text.strip() != f"Error executing tool {tool}", f"a crash: {shown}"
    dumped = result.model_dump_json()
    for bad in FORBIDDEN:
        assert bad not in dumped, f"{bad!r} in {shown}"


def _spent(state: EngineState) -> tuple[int, int]:
    jobs = state.db.one("SELECT COUNT(*) AS n FROM jobs")
    endpoints = state.db.one("SELECT COUNT(*) AS n FROM endpoints")
    return (jobs["n"] if jobs else 0), (endpoints["n"] if endpoints else 0)


async def _call(fuzz: ToolFuzz, tool: str, arguments: dict[str, Any]) -> None:
    fuzz.crashes.clear()
    with anyio.fail_after(CALL_BOUND_S):
        result = await fuzz.client.call_tool(tool, arguments)
    _assert_clean(tool, arguments, result)
    if os.environ.get("BYOM_FUZZ_TRACE"):
        print(
            "FUZZ",
            tool,
            repr(arguments)[:200],
            "->",
            result.is_error,
            text_of(result)[:300].replace("\n", " "),
        )
    assert not fuzz.crashes, [r.getMessage() for r in fuzz.crashes]
    with anyio.fail_after(CALL_BOUND_S):
        listed = await fuzz.client.list_tools()
    assert {t.name for t in listed.tools} == set(TOOL_NAMES)
    assert _spent(fuzz.state) == (0, 0), f"{tool}({str(arguments)[:300]}) created something unconfirmed"
    COVERAGE.hit(tool, refused=bool(result.is_error))


# Defects the fuzzing found, replayed first on every run (each was a crash: "Error executing tool X").
REGRESSIONS: dict[str, list[dict[str, Any]]] = {
    # pathlib's stat raised ValueError (embedded null byte) out of local_data_path.
    "check_training_data": [{"path": "@@train.jsonl@@\x00"}, {"path": "/tmp/a\x00b.jsonl"}],
    # _is_local_path's Path.exists() raised OSError ENAMETOOLONG for a long bare name.
    "create_finetune": [
        {"training_file": "x" * 300, "from_hf_model": "@@model@@"},
        {"training_file": "/tmp/a\x00b.jsonl", "from_hf_model": "@@model@@"},
        {"training_file": "@@train.jsonl@@", "validation_file": "v" * 300, "from_hf_model": "@@model@@"},
    ],
}


def _fuzz_test(tool: str) -> Any:
    # One test per tool, its strategy drawn by @given before the test runs: a draw inside the async test
    # (st.data()) that overruns raises hypothesis' StopTest, a BaseException that kills anyio's runner task.
    @fuzz_settings(EXAMPLES_PER_TOOL)
    @given(arguments=arguments_for_schema(SCHEMAS[tool], STRINGS, VALID[tool]))
    async def test(fuzz: ToolFuzz, arguments: dict[str, Any]) -> None:
        started = time.monotonic()
        await _call(fuzz, tool, placed(arguments, fuzz.paths))
        WALL_S[tool] = WALL_S.get(tool, 0.0) + time.monotonic() - started

    for regression in REGRESSIONS.get(tool, []):
        test = example(arguments=regression)(test)
    test.__name__ = test.__qualname__ = f"test_fuzzed_{tool}_ends_in_a_result_or_a_clear_error"
    test.__doc__ = f"{tool}: every fuzzed call ends in time in a result or a clear error, and spends nothing."
    return test


for _tool in TOOL_NAMES:
    globals()[f"test_fuzzed_{_tool}_ends_in_a_result_or_a_clear_error"] = _fuzz_test(_tool)


def test_every_tool_was_fuzzed(capsys: pytest.CaptureFixture[str]) -> None:
    """The report (cases and wall time per tool), and every fuzzed tool ran its full example budget."""
    # The tools whose tests ran in this process (under pytest-xdist the others ran in another worker, whose
    # counts are not here): each ran its full budget.
    ran = {t for t in TOOL_NAMES if t in WALL_S}
    if not ran:
        pytest.skip("run together with the fuzz tests")
    assert set(TOOL_NAMES) == {t.name for t in TOOLS}
    with capsys.disabled():
        print(f"\nfuzz_tools cases ({sum(COVERAGE.cases.values())}):", COVERAGE.summary(sorted(ran)))
        print("fuzz_tools wall s:", {t: round(WALL_S.get(t, 0.0), 1) for t in sorted(ran)})
    assert set(SCHEMAS) == set(TOOL_NAMES) == set(VALID)  # every registered tool has its fuzz test
    assert all(COVERAGE[t] >= EXAMPLES_PER_TOOL for t in ran), COVERAGE.cases
    # The fuzzing reached past the argument checks: each tool whose valid arguments succeed did succeed.
    succeeds = {"inspect_hf_model", "recommend_base", "check_training_data", "create_finetune", "list_jobs"}
    assert all(COVERAGE.refused[t] < COVERAGE[t] for t in ran & succeeds), COVERAGE.refused
