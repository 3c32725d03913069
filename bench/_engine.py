"""What the benches share: a real engine process on a free loopback port, for the length of a ``with``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx2

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def engine_process(
    root: Path, *, allow_dir: Path | None = None, flags: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m byom engine`` (with ``flags``) and data under ``root``; yields its URL (key: ``KEY``) once
    /health answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "byom",
        "engine",
        "--port",
        str(port),
        "--data-dir",
        str(root / "engine"),
        "--api-key",
        KEY,
    ]
    if allow_dir is not None:
        args += ["--allow-dir", str(allow_dir)]
    args += flags
    engine = subprocess.Popen(args, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit(f"the engine did not start at {base}")
        yield base, engine
    finally:
        engine.terminate()
        engine.wait(timeout=60)
