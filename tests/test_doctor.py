"""``byom doctor``: the CLI as a user runs it (text and --json), with canary secrets that must never show, an
engine running or not, a stale lock, missing packages and the host snippets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import constants

from byom.doctor import (
    DoctorReport,
    check_training_packages,
    diagnose,
    host_snippets,
    http_host_snippets,
    package_info,
    probe_accelerators,
    render_doctor,
)
from support.engine import EngineProcess, free_port

CANARIES = {
    "HF_TOKEN": "hf_CANARYdoctor0001",
    "WANDB_API_KEY": "wandb-CANARY-doctor-0002",
    "BYOM_MCP_TOKEN": "mcp-CANARY-doctor-0003",
    "BYOM_ENGINE_API_KEY": "engine-CANARY-doctor-0004",
}
UNREACHABLE_HUB = "http://127.0.0.1:9"  # the discard port: refused at once, like a Hub behind no network
NO_TORCH: dict[str, Any] = {"torch": None, "cuda": [], "mps": False, "errors": []}


def _env(**extra: str) -> dict[str, str]:
    # The suite's autouse fixture already points HOME, BYOM_DATA_DIR and the caches at temp dirs.
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "BYOM_BACKEND")}
    env.update(HF_ENDPOINT=UNREACHABLE_HUB, BYOM_ENGINE_URL=f"http://127.0.0.1:{free_port()}")
    env.update(extra)
    return env


def _doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "byom", "doctor", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)


def _assert_no_canary(*outputs: str) -> None:
    for text in outputs:
        for value in CANARIES.values():
            assert value not in text
            assert value[:8] not in text  # no prefix either


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process checks: the Hub endpoint huggingface_hub read at import, made unreachable."""
    monkeypatch.setattr(constants, "ENDPOINT", UNREACHABLE_HUB)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def _check(report: DoctorReport, name: str) -> list[Any]:
    return [c for c in report.checks if c.name == name]


@pytest.mark.slow
def test_the_cli_reports_everything_and_never_a_secret() -> None:
    env = _env(**CANARIES)
    text = _doctor(env)
    as_json = _doctor(env, "--json")
    assert text.returncode == 0, text.stdout + text.stderr
    assert as_json.returncode == 0, as_json.stderr
    _assert_no_canary(text.stdout, text.stderr, as_json.stdout, as_json.stderr)

    assert "HF_TOKEN set" in text.stdout and "TOGETHER_API_KEY not set" in text.stdout
    assert "byom-mcp starts it on demand" in text.stdout  # no engine is not a failure
    assert (
        f"{UNREACHABLE_HUB} is not reachable" in text.stdout
        and "Local model directories still work" in text.stdout
    )
    assert "all checks pass" in text.stdout and "Traceback" not in text.stderr

    report = json.loads(as_json.stdout)
    assert report["ok"] is True
    assert (
        report["credentials"]["WANDB_API_KEY"] is True and report["credentials"]["TOGETHER_API_KEY"] is False
    )
    assert report["backend"]["kind"] == "local"
    assert report["engine"]["reachable"] is False and report["hub"]["reachable"] is False
    assert {p["name"] for p in report["packages"]} >= {
        "mcp",
        "pydantic",
        "huggingface_hub",
        "httpx2",
        "torch",
    }
    assert report["transformers_ceiling"] and report["devices"][0]["key"] == "cpu"
    hosts = {h["host"]: h for h in report["hosts"]}
    assert set(hosts) == {
        "Claude Desktop",
        "Claude Code",
        "Cursor",
        "VS Code",
        "Claude Code (byom mcp --http)",
        "VS Code (byom mcp --http)",
    }
    for name, snippet in hosts.items():
        if snippet["format"] == "json" and "--http" not in name:
            body = json.loads(snippet["text"])
            entry = (body.get("mcpServers") or body["servers"])["byom"]
            assert Path(entry["command"]).is_absolute()
            assert entry["env"]["HF_TOKEN"] in ("<your HF_TOKEN>", "${input:hf-token}")
            assert "BYOM_MCP_TOKEN" not in entry["env"]  # stdio hosts do not need the HTTP token
    assert json.loads(hosts["VS Code"]["text"])["servers"]["byom"]["type"] == "stdio"
    assert Path(hosts["Claude Desktop"]["where"]).is_absolute()
    assert '--env HF_TOKEN="$HF_TOKEN"' in hosts["Claude Code"]["text"]


@pytest.mark.slow
def test_a_running_engine_is_reachable_with_its_lock_holder(offline_hub: None, tmp_path: Path) -> None:
    data = tmp_path / "byom"
    data.mkdir(mode=0o700)
    engine = EngineProcess(data / "engine", tmp_path).start()
    try:
        report = diagnose(_env(BYOM_DATA_DIR=str(data), BYOM_ENGINE_URL=engine.url), probe=lambda: NO_TORCH)
    finally:
        engine.stop()
    assert engine.proc is not None and report.engine is not None
    assert report.engine.reachable  # its device is null until its own probe finishes
    assert report.engine.holder_pid == engine.proc.pid and report.engine.holder_alive is True
    assert report.engine.holder_url == engine.url
    [check] = _check(report, "engine")
    assert check.status == "ok" and f"pid {engine.proc.pid}" in check.detail
    assert report.ok and engine.key not in report.model_dump_json()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(30)
    return proc.pid


def test_a_stale_pid_file_is_reported_with_how_to_clear_it(offline_hub: None, tmp_path: Path) -> None:
    data = tmp_path / "byom"
    (data / "engine").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    pid = _dead_pid()
    (data / "engine" / "engine.pid").write_text(json.dumps({"pid": pid, "url": "http://127.0.0.1:1"}))
    report = diagnose(_env(BYOM_DATA_DIR=str(data)), probe=lambda: NO_TORCH)
    [lock] = _check(report, "engine lock")
    assert lock.status == "warning" and f"pid {pid}, which is not running" in lock.detail
    assert lock.fix == f"Remove the stale pid file: rm {data / 'engine' / 'engine.pid'}"
    assert report.ok and report.engine is not None and report.engine.holder_alive is False


def test_a_live_engine_at_another_url_than_byom_looks_for_is_a_problem(
    offline_hub: None, tmp_path: Path
) -> None:
    data = tmp_path / "byom"
    (data / "engine").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    (data / "engine" / "engine.pid").write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:1"}))
    report = diagnose(_env(BYOM_DATA_DIR=str(data)), probe=lambda: NO_TORCH)
    [engine] = _check(report, "engine")
    assert (
        engine.status == "problem"
        and engine.fix == f"Set BYOM_ENGINE_URL=http://127.0.0.1:1, or stop pid {os.getpid()}."
    )
    assert not report.ok


def test_no_engine_with_autostart_off_is_a_problem_with_the_start_command(offline_hub: None) -> None:
    env = _env(BYOM_NO_ENGINE_AUTOSTART="1")
    port = env["BYOM_ENGINE_URL"].rsplit(":", 1)[1]
    report = diagnose(env, probe=lambda: NO_TORCH)
    [engine] = _check(report, "engine")
    assert engine.status == "problem" and "BYOM_NO_ENGINE_AUTOSTART is set" in engine.detail
    assert engine.fix is not None and f"byom engine --port {port}" in engine.fix
    assert not report.ok and "1 problem to fix" in render_doctor(report)


def test_a_missing_training_package_fails_a_local_backend_with_the_install_line() -> None:
    missing = package_info("byom-no-such-package-xyz", ">=1")
    assert missing.version is None and not missing.satisfied
    present = package_info("pydantic", ">=2")
    check = check_training_packages([present, missing], "local")
    assert check.status == "problem" and "byom-no-such-package-xyz not installed" in check.detail
    assert check.fix is not None and 'pip install "byom-mcp[local]"' in check.fix
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in check.fix
    # Jobs on Together's cloud do not train here: worth knowing, not a failure.
    assert check_training_packages([missing], "together").status == "warning"
    too_old = package_info("pydantic", ">=999")
    assert check_training_packages([too_old], "local").status == "problem"
    assert "byom needs >=999" in too_old.text()


def test_a_data_dir_others_can_read_is_a_problem(offline_hub: None, tmp_path: Path) -> None:
    data = tmp_path / "open"
    data.mkdir()
    data.chmod(0o755)
    report = diagnose(_env(BYOM_DATA_DIR=str(data)), probe=lambda: NO_TORCH)
    [check] = _check(report, "data dir")
    assert check.status == "problem" and "mode 0755" in check.detail
    assert check.fix == f"chmod -R go-rwx {data}"


def test_backend_settings_that_cannot_work_and_ones_that_merely_conflict(offline_hub: None) -> None:
    forced = diagnose(_env(BYOM_BACKEND="together"), probe=lambda: NO_TORCH)
    assert not forced.ok and any(
        c.status == "problem" and "TOGETHER_API_KEY" in c.detail for c in forced.checks
    )
    key = "tgp_CANARY_doctor_0005"
    local = diagnose(_env(BYOM_BACKEND="local", TOGETHER_API_KEY=key), probe=lambda: NO_TORCH)
    assert local.ok and any(c.status == "warning" and "BYOM_BACKEND=local" in c.detail for c in local.checks)
    assert key not in local.model_dump_json() and key not in render_doctor(local)
    bogus = diagnose(_env(BYOM_BACKEND="bogus"), probe=lambda: NO_TORCH)
    [settings] = _check(bogus, "settings")
    assert settings.status == "problem" and "BYOM_BACKEND='bogus'" in settings.detail and not bogus.ok


def test_gpus_are_named_with_their_memory_and_probe_errors_warn() -> None:
    gpu = {
        "torch": "2.13.0",
        "cuda": [{"name": "NVIDIA H100 80GB HBM3", "memory": 80 * 1024**3}],
        "mps": False,
    }
    devices, check = probe_accelerators(lambda: {**gpu, "errors": []})
    assert [d.key for d in devices] == ["cpu", "cuda:0"] and devices[1].memory_gib == 80
    assert (
        check.status == "ok"
        and "NVIDIA H100 80GB HBM3, 80 GiB" in check.detail
        and "trains on cuda" in check.detail
    )
    _, broken = probe_accelerators(
        lambda: {**NO_TORCH, "torch": "2.13.0", "errors": ["cuda: RuntimeError: driver"]}
    )
    assert broken.status == "warning" and "driver" in broken.detail


def test_host_snippets_put_keys_as_placeholders_and_escape_windows_paths() -> None:
    command = r"C:\Users\A B\byom\.venv\Scripts\byom-mcp.exe"
    snippets = {s.host: s for s in host_snippets(command, [], ["HF_TOKEN", "TOGETHER_API_KEY"])}
    desktop = json.loads(snippets["Claude Desktop"].text)["mcpServers"]["byom"]
    assert desktop["command"] == command  # JSON escapes the backslashes; parsing gives the path back
    assert desktop["env"] == {"HF_TOKEN": "<your HF_TOKEN>", "TOGETHER_API_KEY": "<your TOGETHER_API_KEY>"}
    vscode = json.loads(snippets["VS Code"].text)
    assert [i["id"] for i in vscode["inputs"]] == ["hf-token", "together-api-key"]
    assert all(i["password"] for i in vscode["inputs"])
    assert vscode["servers"]["byom"]["env"]["TOGETHER_API_KEY"] == "${input:together-api-key}"
    bare = {s.host: s for s in host_snippets("/opt/byom/bin/byom-mcp", [], [])}
    assert "env" not in json.loads(bare["Cursor"].text)["mcpServers"]["byom"]
    assert bare["Claude Code"].text == "claude mcp add byom -- /opt/byom/bin/byom-mcp"


def test_http_snippets_send_the_token_read_from_its_file_never_its_value(tmp_path: Path) -> None:
    token_file = tmp_path / "my data" / "mcp_token"
    token_file.parent.mkdir()
    token_file.write_text("the-real-token-value\n")
    url = "http://127.0.0.1:8376/mcp"
    claude, vscode = http_host_snippets(url, token_file)
    assert claude.text == (
        f"claude mcp add --transport http byom {url} --header \"Authorization: Bearer $(cat '{token_file}')\""
    )
    body = json.loads(vscode.text)
    assert body["servers"]["byom"] == {
        "type": "http",
        "url": url,
        "headers": {"Authorization": "Bearer ${input:byom-mcp-token}"},
    }
    assert str(token_file) in body["inputs"][0]["description"] and body["inputs"][0]["password"]
    assert all("the-real-token-value" not in s.text for s in (claude, vscode))
    from_env, _ = http_host_snippets(url, None)
    assert from_env.text.endswith('--header "Authorization: Bearer $BYOM_MCP_TOKEN"')


def test_doctor_points_http_hosts_at_the_data_dirs_token_file(offline_hub: None, tmp_path: Path) -> None:
    report = diagnose(_env(BYOM_DATA_DIR=str(tmp_path / "data")), probe=lambda: NO_TORCH)
    (claude,) = [h for h in report.hosts if h.host == "Claude Code (byom mcp --http)"]
    assert str(tmp_path / "data" / "mcp_token") in claude.text


def test_the_engine_data_dir_is_judged_once_by_the_engines_own_rule(
    offline_hub: None, tmp_path: Path
) -> None:
    """Doctor had a second private-dir rule beside the engine's: a folder of the user's own files showed as
    two "engine data dir" checks, one ok and one problem whose fix repeated its detail."""
    data = tmp_path / "byom"
    (data / "engine").mkdir(parents=True, mode=0o700)
    data.chmod(0o700)
    (data / "engine" / "notes.txt").write_text("mine")
    report = diagnose(_env(BYOM_DATA_DIR=str(data)), probe=lambda: NO_TORCH)
    [check] = _check(report, "engine data dir")
    assert check.status == "problem" and "not an engine data dir" in check.detail
    assert check.fix is not None and check.fix != check.detail and "--data-dir" in check.fix
