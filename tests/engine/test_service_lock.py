"""``byom engine`` as real processes: one engine per data dir, a clear line on a port clash, and
"listening" logged only once the port is bound."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.engine import EngineProcess, free_port

pytestmark = pytest.mark.slow


def _engine(data_dir: Path, port: int, allow_dir: Path) -> subprocess.CompletedProcess[str]:
    """A second ``byom engine`` that is expected to refuse to start: run to its exit, bounded."""
    env = {k: v for k, v in os.environ.items() if k != "BYOM_ENGINE_API_KEY"}
    cmd = [sys.executable, "-m", "byom", "engine", "--port", str(port), "--data-dir", str(data_dir)]
    cmd += ["--allow-dir", str(allow_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_a_second_engine_on_the_same_data_dir_refuses_to_start(tmp_path: Path) -> None:
    first = EngineProcess(tmp_path / "engine", tmp_path).start()
    try:
        second = _engine(first.data_dir, free_port(), tmp_path)
        assert second.returncode != 0
        expected = (
            f"Another byom engine (pid {first.proc.pid}, {first.url}) already uses {first.data_dir.resolve()}."
            " Stop it, or pass --data-dir."
        )
        assert expected in second.stderr, second.stderr
        assert "Traceback" not in second.stderr and "listening" not in second.stderr
        holder = first.data_dir / "engine.pid"
        assert holder.stat().st_mode & 0o077 == 0 and str(first.proc.pid) in holder.read_text()
    finally:
        first.stop()
    # The lock went with the first engine: the dir is free again.
    third = EngineProcess(tmp_path / "engine", tmp_path).start()
    third.stop()


def test_a_port_clash_is_one_clear_line_and_listening_comes_after_the_bind(tmp_path: Path) -> None:
    first = EngineProcess(tmp_path / "a", tmp_path).start()
    try:
        clash = _engine(tmp_path / "b", first.port, tmp_path)
        assert clash.returncode != 0
        assert f"Port {first.port} is in use: another process listens there; pass --port" in clash.stderr
        assert "Traceback" not in clash.stderr and "listening" not in clash.stderr
    finally:
        first.stop()
    log = first.log.read_text()
    assert f"byom engine listening on {first.url}" in log
    assert f"Local models may come from: {Path.home().resolve()}" in log and str(tmp_path) in log
    assert "GET /health 200" in log  # the access log, at INFO
