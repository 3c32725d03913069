"""A real third-party client: the MCP Inspector's CLI mode (Node, the TypeScript SDK) against byom-mcp over stdio
and over streamable HTTP. It exits 0 on tool errors, so every check reads the JSON it prints.

The version is pinned in .ci/inspector/package.json (with its lock); .ci/run installs it with `npm ci`.
BYOM_INSPECTOR_DIR points elsewhere; BYOM_INSPECTOR_REQUIRED=1 (set by CI) turns a missing install into a failure.
Over HTTP it sends byom's bearer token: that CLI has no header option, so .ci/inspector/bearer.cjs adds it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from byom.server import TOOLS
from support.engine import HANG_S
from support.mcp_stack import Stack

pytestmark = pytest.mark.slow

PIN_DIR = Path(__file__).resolve().parents[2] / ".ci" / "inspector"
BEARER_PRELOAD = PIN_DIR / "bearer.cjs"
PACKAGE = "@modelcontextprotocol/inspector"
PINNED = json.loads((PIN_DIR / "package.json").read_text())["dependencies"][PACKAGE]
OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"


def _inspector() -> Path:
    """The pinned Inspector's launcher; skips (or, in CI, fails) when it is not installed."""
    prefix = Path(os.environ.get("BYOM_INSPECTOR_DIR", PIN_DIR))
    installed = prefix / "node_modules" / PACKAGE / "package.json"
    if not installed.is_file():
        reason = f"MCP Inspector {PINNED} not installed: npm ci --prefix {prefix} (as .ci/run does)"
        if os.environ.get("BYOM_INSPECTOR_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    version = json.loads(installed.read_text())["version"]
    assert version == PINNED, f"{prefix} holds Inspector {version}, the pin is {PINNED}: run npm ci again"
    return prefix / "node_modules" / ".bin" / "mcp-inspector"


class Inspector:
    """`mcp-inspector --cli TARGET --method ...`: TARGET is byom-mcp's command (stdio) or its URL (HTTP)."""

    def __init__(self, launcher: Path, target: list[str], env: dict[str, str], log: Path) -> None:
        self.launcher, self.target, self.env, self.log = launcher, target, env, log

    def run(self, method: str, *extra: str) -> dict[str, Any]:
        with self.log.open("a") as errlog:  # the Inspector's own complaints, for the assertion below
            done = subprocess.run(
                [str(self.launcher), "--cli", *self.target, "--method", method, *extra],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=errlog,
                timeout=HANG_S,
                check=False,
            )
        assert done.returncode == 0, f"inspector exited {done.returncode}: {self.log.read_text()[-4000:]}"
        out = done.stdout.decode()
        # The result is the whole of stdout, one JSON document: nothing else may be mixed into it.
        try:
            return dict(json.loads(out))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"not one JSON document on stdout ({exc}): {out[:2000]}") from exc

    def call(self, tool: str, **args: str) -> dict[str, Any]:
        pairs = [f"{k}={v}" for k, v in args.items()]
        return self.run("tools/call", "--tool-name", tool, *(["--tool-arg", *pairs] if pairs else []))


def _text(result: dict[str, Any]) -> str:
    return "\n".join(c["text"] for c in result["content"] if c.get("type") == "text")


def _ok(result: dict[str, Any]) -> dict[str, Any]:
    assert result.get("isError") is False, _text(result)
    assert isinstance(result.get("structuredContent"), dict), result
    return dict(result["structuredContent"])


def _fails_cleanly(result: dict[str, Any]) -> str:
    assert result.get("isError") is True, result
    text = _text(result)
    assert text and "Traceback" not in text and 'File "' not in text, text
    return text


@pytest.fixture(scope="module")
def launcher() -> Path:
    return _inspector()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("inspector"), tiny_model.parent)
    try:
        yield stack
    finally:
        stack.stop_engine()  # list_jobs started it


@pytest.fixture(scope="module")
def http_url(stack: Stack) -> Iterator[str]:
    with stack.http_server() as url:
        yield url


def _http_inspector(launcher: Path, stack: Stack, url: str) -> Inspector:
    """The Inspector against `byom mcp --http`, sending the token the server generated on its first start."""
    env = {
        **stack.process_env(),
        "NODE_OPTIONS": f"--require {BEARER_PRELOAD}",
        "BYOM_INSPECTOR_BEARER": stack.mcp_token(),
    }
    return Inspector(launcher, [url, "--transport", "http"], env, stack.log)


@pytest.fixture(scope="module", params=["stdio", "http"])
def inspector(request: pytest.FixtureRequest, launcher: Path, stack: Stack) -> Inspector:
    if request.param == "stdio":
        byom_mcp = Path(sys.executable).parent / "byom-mcp"  # the entry point hosts launch
        return Inspector(launcher, [str(byom_mcp)], stack.process_env(), stack.log)
    return _http_inspector(launcher, stack, request.getfixturevalue("http_url"))


def test_lists_the_twelve_tools_in_order(inspector: Inspector) -> None:
    tools = inspector.run("tools/list")["tools"]
    assert [t["name"] for t in tools] == [t.name for t in TOOLS]
    assert len(tools) == 12
    assert all(t["inputSchema"]["type"] == "object" and t["description"] for t in tools)


def test_inspect_hf_model_reads_a_local_model(inspector: Inspector, tiny_model: Path) -> None:
    report = _ok(inspector.call("inspect_hf_model", model=str(tiny_model)))
    assert report["is_causal_lm"] is True and report["source"] == "local", report
    assert report["needs_remote_code"] is False


def test_the_other_tools_that_start_nothing_and_a_failing_call_over_http(
    launcher: Path, stack: Stack, http_url: str, tiny_model: Path, tmp_path: Path
) -> None:
    """Over HTTP each call is cheap (one server for all), so here are the other tools that start nothing
    (create_finetune without a confirmation only plans) and a failing call; stdio pays a server start per call."""
    http = _http_inspector(launcher, stack, http_url)

    missing = tmp_path / "nowhere" / "train.jsonl"
    text = _fails_cleanly(http.call("check_training_data", path=str(missing)))
    assert str(missing) in text and "does not exist" in text, text

    rec = _ok(http.call("recommend_base", model=str(tiny_model)))
    assert rec["base_model"] and rec["training_type"] == "lora", rec

    train = tmp_path / "train.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(3)
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    check = _ok(http.call("check_training_data", path=str(train)))
    assert check["report"]["valid"] is True, check

    oom = _ok(http.call("explain_error", error_text=OOM))
    assert oom["category"] == "out_of_memory" and oom["retryable"] is False, oom
    assert oom["evidence"] == OOM and oom["fixes"], oom

    # The first job tool starts the local engine (detached); the stack's teardown stops it.
    jobs = _ok(http.call("list_jobs"))
    assert jobs["jobs"] == [] and jobs["total"] == 0 and stack.url in jobs["backend"], jobs

    # The Inspector cannot elicit, so create_finetune only shows the plan and a token: nothing starts.
    args = {"training_file": str(train), "from_hf_model": str(tiny_model), "model": rec["base_model"]}
    plan = _ok(http.call("create_finetune", **args, n_epochs="1"))
    assert plan["status"] == "confirmation_required" and plan["job_id"] is None, plan
    assert plan["job_status"] is None and plan["confirm_token"], plan
    assert plan["plan"]["request"]["n_epochs"] == 1 and plan["plan"]["costs_money"] is False, plan
