"""deploy_endpoint's Python and curl snippets, run verbatim in a user's shell, for both backends.

byom-mcp runs as a host runs it (stdio, ``support.mcp_stack``) and deploys a registered model on a real engine
process; the snippets then run in a subprocess whose environment is a user's: PATH and HOME, no BYOM_* variable,
and for Together TOGETHER_API_KEY. The engine stands in for Together's cloud there: byom-mcp is pointed at it by
TOGETHER_BASE_URL, and the snippets carry the base URL byom-mcp used (for a real user, https://api.together.ai).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from support.engine import EngineProcess, open_state, register_tiny
from support.mcp_stack import Session, Stack, ok
from support.poll import HANG_S
from support.tool_calls import text_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def _engine(data_dir: Path, tiny_model: Path, port: int | None = None) -> tuple[EngineProcess, str]:
    """A real engine process with the tiny model in its registry (as a completed job leaves it); its key is the
    one it generates in its data dir on first start."""
    state = open_state(data_dir)
    model_id = register_tiny(state, tiny_model).id
    state.close()
    return EngineProcess(data_dir, tiny_model.parent, port=port).start(), model_id


def _user_env(**extra: str) -> dict[str, str]:
    """A user's fresh shell: no byom setting, no key but the ones named."""
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": os.environ["HOME"], **extra}


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=HANG_S, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _run_snippets(endpoint: dict[str, object], env: dict[str, str]) -> None:
    """Both snippets, as given, in ``env``: each prints a completion."""
    assert endpoint["install"] == "pip install together"  # installed in this venv, as the result tells a user
    printed = _run([sys.executable, "-c", str(endpoint["python"])], env)
    assert printed.endswith("\n") and printed != "None\n", printed  # the message content
    answer = json.loads(_run(["sh", "-c", str(endpoint["curl"])], env))
    assert isinstance(answer["choices"][0]["message"]["content"], str), answer
    assert answer["usage"]["completion_tokens"] >= 1, answer


@pytest.fixture
def local_stack(tmp_path: Path, tiny_model: Path) -> Iterator[tuple[Stack, EngineProcess, str]]:
    """byom-mcp on the local engine, which runs at its default data dir (what byom-mcp would start itself)."""
    stack = Stack(tmp_path, tiny_model.parent)
    port = urlsplit(stack.url).port
    engine, model_id = _engine(stack.data / "engine", tiny_model, port=port)
    try:
        yield stack, engine, model_id
    finally:
        engine.stop()


async def test_local_snippets_read_the_engines_key_file_by_path_and_print_a_completion(
    local_stack: tuple[Stack, EngineProcess, str],
) -> None:
    stack, engine, model_id = local_stack
    key_file = stack.data / "engine" / "api_key"
    seen = Session()
    async with stack.session(seen) as client:
        backend = json.loads((await client.read_resource("byom://backend")).contents[0].text)
        result = await client.call_tool("deploy_endpoint", {"model": model_id, "wait_seconds": 45})
    assert backend["engine_key_file"] == str(key_file)
    endpoint = ok(result)["endpoint"]
    assert endpoint["ready"] and endpoint["check"]["ok"], endpoint
    assert endpoint["check"]["key_from"] == f"the key file {key_file}" and endpoint["key_file"] == str(
        key_file
    )
    text = text_of(result)
    assert f"READY, verified: one completion through POST {stack.url}/v1/chat/completions" in text
    assert engine.key not in text and engine.key not in json.dumps(result.structured_content)
    assert not any(k.startswith("BYOM_") for k in _user_env())
    _run_snippets(endpoint, _user_env())


@pytest.fixture
def together_stack(tmp_path: Path, tiny_model: Path) -> Iterator[tuple[Stack, EngineProcess, str]]:
    """byom-mcp on "Together" (the engine standing in, reached through TOGETHER_BASE_URL and its key)."""
    engine, model_id = _engine(tmp_path / "cloud", tiny_model)
    try:
        stack = Stack(tmp_path, tiny_model.parent, TOGETHER_API_KEY=engine.key, TOGETHER_BASE_URL=engine.url)
        yield stack, engine, model_id
    finally:
        engine.stop()


async def test_together_snippets_read_together_api_key_and_print_a_completion(
    together_stack: tuple[Stack, EngineProcess, str],
) -> None:
    stack, engine, model_id = together_stack
    seen = Session()
    async with stack.session(seen) as client:
        result = await client.call_tool("deploy_endpoint", {"model": model_id, "wait_seconds": 45})
    endpoint = ok(result)["endpoint"]
    assert endpoint["ready"] and endpoint["check"]["ok"], endpoint
    assert endpoint["check"]["key_from"] == "$TOGETHER_API_KEY" and endpoint["key_file"] is None
    assert "os.environ['TOGETHER_API_KEY']" in endpoint["python"] and engine.url in endpoint["python"]
    assert engine.key not in text_of(result)
    _run_snippets(endpoint, _user_env(TOGETHER_API_KEY=engine.key))
