"""A repo whose ``auto_map`` points at code that would run on import: no step of the conversation imports it.

The repo is the session's tiny Llama, copied, with ``configuration_evil.py``, ``modeling_evil.py`` and
``tokenization_evil.py`` that each write a marker file (an absolute path under tmp) when imported, and the
config.json / tokenizer_config.json ``auto_map`` entries that point at them. transformers only imports such
files with ``trust_remote_code=True``; byom never sets it. Every step (inspection, recommendation, the data
check's tokenizer load, training on the real engine with its trainer subprocess, serving the result) either
works on the native Llama classes or refuses with a message, and the marker never appears.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ElicitRequestParams, ElicitResult

from byom.engine.state import EngineState
from byom.tools import AppState
from support.engine import FAST_JOB, job_body, upload, wait_job
from support.mcp_stack import wait_ready
from support.tool_calls import text_of

pytestmark = pytest.mark.anyio

_EVIL = """\
import pathlib
pathlib.Path({marker!r}).write_text("{name} was imported")
{body}
"""
_BODIES = {
    "configuration_evil": "from transformers import LlamaConfig\nclass EvilConfig(LlamaConfig):\n    pass\n",
    "modeling_evil": "from transformers import LlamaForCausalLM\nclass EvilForCausalLM(LlamaForCausalLM):\n    pass\n",
    "tokenization_evil": "from transformers import PreTrainedTokenizerFast\n"
    "class EvilTokenizer(PreTrainedTokenizerFast):\n    pass\n",
}


def make_evil_repo(tiny_model: Path, dest: Path, marker: Path, *, model_type: str = "llama") -> Path:
    """``tiny_model`` copied to ``dest``, its auto_map pointing at modules that write ``marker`` on import."""
    repo = shutil.copytree(tiny_model, dest)
    for name, body in _BODIES.items():
        (repo / f"{name}.py").write_text(_EVIL.format(marker=str(marker), name=name, body=body))
    config = json.loads((repo / "config.json").read_text())
    config["model_type"] = model_type
    config["auto_map"] = {
        "AutoConfig": "configuration_evil.EvilConfig",
        "AutoModelForCausalLM": "modeling_evil.EvilForCausalLM",
    }
    (repo / "config.json").write_text(json.dumps(config))
    tok = json.loads((repo / "tokenizer_config.json").read_text())
    tok["auto_map"] = {
        "AutoTokenizer": ["tokenization_evil.EvilTokenizer", "tokenization_evil.EvilTokenizer"]
    }
    (repo / "tokenizer_config.json").write_text(json.dumps(tok))
    return repo


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "remote-code-ran.marker"


@pytest.fixture
def evil_repo(tiny_model: Path, tmp_path: Path, marker: Path) -> Path:
    return make_evil_repo(tiny_model, tmp_path / "evil-llama", marker)


async def _accept(_context: Any, _params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="accept", content={"confirm": True})


def _ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


def test_the_marker_is_written_when_the_code_is_trusted(evil_repo: Path, marker: Path) -> None:
    """The control: with trust_remote_code=True transformers does import the repo's code, so a marker that
    stays absent below means the code was not run, not that the bait was broken."""
    from transformers import AutoConfig

    AutoConfig.from_pretrained(evil_repo, trust_remote_code=True)
    assert marker.is_file()


async def test_inspect_recommend_and_check_data_never_import_the_repo_code(
    jobs_server: MCPServer[AppState], evil_repo: Path, marker: Path, train_file: Path
) -> None:
    async with Client(jobs_server) as client:
        report = _ok(await client.call_tool("inspect_hf_model", {"model": str(evil_repo)}))
        assert not marker.exists()
        remote = next(f for f in report["findings"] if f["check"] == "remote_code")
        # The custom tokenizer class is what Together would refuse: said, with the fix.
        assert remote["status"] == "fail" and report["needs_remote_code"] is True, remote
        assert "tokenizer_config.json auto_map" in remote["evidence"]
        assert "trust_remote_code" in (remote["fix"] or "")

        _ok(await client.call_tool("recommend_base", {"model": str(evil_repo)}))
        assert not marker.exists()

        # The tokenizer load is the dangerous one: AutoTokenizer reads tokenizer_config.json's auto_map.
        checked = await client.call_tool(
            "check_training_data", {"path": str(train_file), "model": str(evil_repo), "preview_rows": 1}
        )
        assert not marker.exists()
        data = _ok(checked)
        assert data["report"]["valid"] and data["token_stats"] is not None, text_of(checked)


async def test_an_unknown_architecture_with_auto_map_is_refused_without_importing(
    jobs_server: MCPServer[AppState], tiny_model: Path, tmp_path: Path, marker: Path, train_file: Path
) -> None:
    repo = make_evil_repo(tiny_model, tmp_path / "evil-arch", marker, model_type="byom_evil_arch")
    async with Client(jobs_server) as client:
        report = _ok(await client.call_tool("inspect_hf_model", {"model": str(repo)}))
        assert report["needs_remote_code"] is True and report["verdict"] != "compatible", report
        assert "trust_remote_code" in text_of(
            await client.call_tool("inspect_hf_model", {"model": str(repo)})
        )
        # Its tokenizer.json is a native fast tokenizer: loaded as one, the auto_map ignored.
        _ok(await client.call_tool("check_training_data", {"path": str(train_file), "model": str(repo)}))
    assert not marker.exists()


@pytest.mark.slow
async def test_training_and_serving_the_repo_never_import_its_code(
    jobs_server: MCPServer[AppState],
    engine: tuple[httpx2.AsyncClient, EngineState],
    evil_repo: Path,
    marker: Path,
    train_file: Path,
) -> None:
    args = {"training_file": str(train_file), "from_hf_model": str(evil_repo), **FAST_JOB}
    http, _state = engine
    async with Client(jobs_server, elicitation_callback=_accept) as client:
        refused = await client.call_tool("create_finetune", args)
        # byom-mcp refuses before uploading (Together would not run the custom tokenizer either)...
        assert refused.is_error and "trust_remote_code" in text_of(refused), text_of(refused)
        assert "Nothing was uploaded or created" in text_of(refused)
        # ...and the engine, which any Together client may drive directly, trains it on the native classes.
        file_id = (await upload(http, train_file.read_bytes()))["id"]
        r = await http.post("/v1/fine-tunes", json=job_body(file_id, evil_repo))
        assert r.status_code == 200, r.text
        done = await wait_job(http, r.json()["id"])
        assert not marker.exists()
        assert done["status"] == "completed", done
        deployed = _ok(await client.call_tool("deploy_endpoint", {"job_id": done["id"], "wait_seconds": 45}))
        assert deployed["status"] == "deployed", deployed
        name = deployed["endpoint"]["endpoint_name"]
        await wait_ready(client, name)  # serving it imported none of the repo's code either
        assert not marker.exists()
        _ok(await client.call_tool("manage_endpoint", {"endpoint": name, "action": "delete"}))
    assert not marker.exists()
