"""Secrets never leave the settings: not in tool results, logs, the ledger, or any file either side writes.

Canary values stand in for TOGETHER_API_KEY (the key of a Together-shaped backend: the real engine, whose own
key is the same canary, with its job runner training for real), HF_TOKEN and WANDB_API_KEY (sent as
``wandb_key`` because the job names a W&B project). The tools run a create, job_status until the job ends,
list_jobs and several error paths; then every result, log record and byte under both data dirs is searched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.app import create_app
from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import TERMINAL, make_state
from support.faults import FaultTransport
from support.poll import until
from support.tool_calls import text_of

pytestmark = pytest.mark.anyio

TOGETHER_KEY = "tgp_v1_CANARY-together-5d1f0a"
HF_TOKEN = "hf_CANARYhubtoken8c2e71"
WANDB_KEY = "CANARY-wandb-key-93b4aa"
WRONG_KEY = "tgp_v1_CANARY-wrong-key-77e0c3"
CANARIES = (TOGETHER_KEY, HF_TOKEN, WANDB_KEY, WRONG_KEY)


@pytest.fixture
async def canary_engine(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FaultTransport, EngineState]]:
    """The engine, keyed with the Together canary, its runner started (the job trains), behind a recorder."""
    # The same secrets in the environment too: the engine and its trainer must keep them out of their files.
    monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    monkeypatch.setenv("WANDB_API_KEY", WANDB_KEY)
    state = make_state(tmp_path / "eng", tmp_path_factory.getbasetemp(), api_key=TOGETHER_KEY)
    app = create_app(state)
    try:
        async with app.router.lifespan_context(app):
            yield FaultTransport(httpx2.ASGITransport(app=app)), state
    finally:
        state.close()


@pytest.fixture
def settings(paid: Settings) -> Settings:
    """The Together stand-in (``paid``) with every secret set to a value of its own, to look for in answers."""
    return paid.model_copy(
        update={
            "together_api_key": SecretStr(TOGETHER_KEY),
            "hf_token": SecretStr(HF_TOKEN),
            "wandb_api_key": SecretStr(WANDB_KEY),
        }
    )


def _leaks(haystack: str | bytes) -> list[str]:
    if isinstance(haystack, bytes):
        return [c for c in CANARIES if c.encode() in haystack]
    return [c for c in CANARIES if c in haystack]


async def _wait_done(c: Client, job_id: str, results: list[CallToolResult]) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        result = await c.call_tool("job_status", {"job_id": job_id, "wait_seconds": 5, "plot": True})
        results.append(result)
        assert not result.is_error, text_of(result)
        assert result.structured_content is not None
        return dict(result.structured_content) if result.structured_content["status"] in TERMINAL else None

    return await until(ended, f"job {job_id} to end", interval=0)


@pytest.mark.slow  # trains a job end to end
async def test_no_secret_reaches_a_result_a_log_the_ledger_or_a_file(
    settings: Settings,
    canary_engine: tuple[FaultTransport, EngineState],
    tool_args: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("byom", "httpx2", "mcp"):
        caplog.set_level(logging.DEBUG, logger=name)
    wire, state = canary_engine
    args = {**tool_args, "wandb_project_name": "canary-project"}
    results: list[CallToolResult] = []

    async def call(c: Client, name: str, arguments: dict[str, Any], *, error: bool = False) -> dict[str, Any]:
        result = await c.call_tool(name, arguments)
        results.append(result)
        assert result.is_error is error, text_of(result)
        return dict(result.structured_content or {})

    async with Client(build_server(settings, transport=wire)) as c:
        asked = await call(c, "create_finetune", args)
        await call(c, "create_finetune", {**args, "confirm_token": "not-a-token"}, error=True)
        created = await call(c, "create_finetune", {**args, "confirm_token": asked["confirm_token"]})
        assert created["status"] == "created"
        done = await _wait_done(c, created["job_id"], results)
        assert done["status"] == "completed", done
        await call(c, "list_jobs", {})
        await call(c, "job_status", {"job_id": "ft-does-not-exist"}, error=True)
        await call(c, "cancel_job", {"job_id": created["job_id"]}, error=True)
    # A key the backend rejects: the 401 path must not echo it either.
    wrong = settings.model_copy(update={"together_api_key": SecretStr(WRONG_KEY)})
    async with Client(build_server(wrong, transport=wire)) as c:
        await call(c, "list_jobs", {}, error=True)

    # The canaries were really used: the key on every API request (the presigned upload PUT carries none, by
    # design), the W&B key in the create's body.
    keys = {s.headers.get("authorization") for s in wire.sent if s.method != "PUT"}
    assert keys == {f"Bearer {TOGETHER_KEY}", f"Bearer {WRONG_KEY}"}
    assert all("authorization" not in s.headers for s in wire.sent if s.method == "PUT")
    (body,) = wire.bodies("POST", "/v1/fine-tunes")
    assert json.loads(body)["wandb_key"] == WANDB_KEY

    for result in results:
        dumped = result.model_dump_json()
        assert _leaks(dumped) == [], dumped[:2000]
    assert _leaks(caplog.text) == []
    for record in caplog.records:
        assert _leaks(record.getMessage()) == [], record.getMessage()
    assert caplog.records, "nothing was logged: the log check checked nothing"

    files = [
        p
        for root in (settings.data_dir, settings.cache_dir, state.data_dir, state.data_dir.parent)
        for p in root.rglob("*")
        if p.is_file()
    ]
    assert settings.ledger_path in files
    assert any(p.name == "spec.json" for p in files)  # the trainer's job dir is among them
    leaked = {str(p): _leaks(p.read_bytes()) for p in files}
    assert {p: c for p, c in leaked.items() if c} == {}


async def test_a_secret_pasted_into_a_tool_never_comes_back(tmp_path: Path) -> None:
    """The server's last filter: whatever a tool would echo (here explain_error quoting pasted text, and an error
    naming a bad argument value), the configured credentials' values are replaced."""
    hf, together_key = "hf_pasteCANARY0123456789", "tk-pasteCANARY0123456789"
    settings = Settings(
        data_dir=tmp_path / "byom",
        hf_token=SecretStr(hf),
        together_api_key=SecretStr(together_key),
        backend_choice="local",
        engine_autostart=False,
    )
    log = f"Traceback (most recent call last):\n  File 'x.py', line 1\nValueError: token {hf} and key {together_key} rejected\n"
    async with Client(build_server(settings)) as client:
        explained = await client.call_tool("explain_error", {"error_text": log})
        refused = await client.call_tool("job_status", {"job_id": together_key})
    for result in (explained, refused):
        dumped = result.model_dump_json()
        assert hf not in dumped and together_key not in dumped, dumped


# A process environment as /proc/self/environ holds it: NUL-separated, the secrets among ordinary variables.
ENVIRON = (
    "PATH=/usr/local/bin:/usr/bin\x00HOME=/home/me\x00AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\x00"
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\x00"
    "SLACK_BOT=xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\x00LANG=C.UTF-8"
)
UNTOLD = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG", "xoxb-1234567890")


async def test_the_last_seam_removes_secrets_it_was_never_told_about(tmp_path: Path) -> None:
    """Issue 14, finding 2: an unrelated AWS_SECRET_ACCESS_KEY came through the last seam, which knew only the
    configured values. Text, structured content and errors are searched; our ids and hashes and an image's
    base64 data (which here happens to spell a key id) are left exactly as they were."""
    server = build_server(
        Settings(data_dir=tmp_path / "byom", backend_choice="local", engine_autostart=False)
    )
    job_id = "ft-3f2a9c1e-0b7d-4e55-9a61-2c8d7e4f1a03"
    digest = "sha256:" + "0123456789abcdef" * 4
    image = "AKIAIOSFODNN7EXAMPLE"  # valid base64; never read as text

    def leaky(fail: bool) -> CallToolResult:
        if fail:
            raise ToolError(f"the backend said: {ENVIRON}")
        return CallToolResult(
            content=[
                TextContent(type="text", text=ENVIRON),
                ImageContent(type="image", data=image, mime_type="image/png"),
            ],
            structured_content={"rows": [{"text": ENVIRON}], "job_id": job_id, "file": digest},
        )

    server.add_tool(leaky, name="leaky")
    async with Client(server) as client:
        ok = await client.call_tool("leaky", {"fail": False})
        failed = await client.call_tool("leaky", {"fail": True})
    assert failed.is_error
    for result in (ok, failed):
        text = text_of(result)
        assert not [s for s in UNTOLD if s in text], text
        assert "PATH=/usr/local/bin:/usr/bin" in text and "LANG=C.UTF-8" in text
    structured = ok.structured_content or {}
    assert not [s for s in UNTOLD if s in json.dumps(structured)]
    assert structured["job_id"] == job_id and structured["file"] == digest
    assert [b.data for b in ok.content if isinstance(b, ImageContent)] == [image]


async def test_an_environment_in_the_loss_preview_comes_back_without_its_secrets(
    tmp_path: Path, tiny_model: Path
) -> None:
    """Finding 2 end to end: the text a symlinked file put into the loss preview (here a dataset row holding
    the environment) reaches the client with its secrets removed."""
    row = {
        "messages": [
            {"role": "user", "content": ENVIRON.replace("\x00", "\n")},
            {"role": "assistant", "content": "ok"},
        ]
    }
    data = tmp_path / "env.jsonl"
    data.write_text(json.dumps(row) + "\n")
    server = build_server(
        Settings(data_dir=tmp_path / "byom", backend_choice="local", engine_autostart=False)
    )
    async with Client(server) as client:
        result = await client.call_tool("check_training_data", {"path": str(data), "model": str(tiny_model)})
    assert not result.is_error, text_of(result)
    dumped = result.model_dump_json()
    assert "HOME=/home/me" in text_of(result)  # the row really is in the preview
    assert not [s for s in UNTOLD if s in dumped], dumped[:3000]
