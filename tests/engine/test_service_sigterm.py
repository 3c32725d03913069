"""SIGTERM (what `kill`, systemd and the demo send) stops the engine cleanly: it gives up its data dir."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from byom.engine.service import HOLDER_FILE
from support.engine import EngineProcess

pytestmark = pytest.mark.slow


def test_sigterm_releases_the_data_dir_and_exits_zero(tmp_path: Path) -> None:
    engine = EngineProcess(tmp_path / "engine", tmp_path).start()
    holder = engine.data_dir / HOLDER_FILE
    assert holder.exists()
    assert engine.proc is not None
    engine.proc.send_signal(signal.SIGTERM)
    assert engine.proc.wait(60) == 0, engine.log.read_text()
    assert not holder.exists(), "engine.pid left behind: the process died before serve() cleaned up"
    # The next engine on the same dir starts at once.
    EngineProcess(tmp_path / "engine", tmp_path).start().stop()
