"""The tests' one way to wait: poll until the awaited thing is there, and fail only at a hang failsafe.

Every wait returns as soon as its event happens; ``HANG_S`` is a failsafe for slow, loaded CI machines, never a
timing expectation. ``check`` returns what was awaited, or something falsy (``None``, ``False``) to poll again:

    job = await until(lambda: job_if_done(client, job_id), f"job {job_id} to end")
    port = until_sync(lambda: listening(port), "the server to listen")
    until_sync(lambda: not alive(pid), f"process {pid} to exit")
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio

__all__ = ["HANG_S", "alive", "listening", "until", "until_sync"]

T = TypeVar("T")

HANG_S = 600.0


async def until(
    check: Callable[[], Awaitable[T | None]], what: str, *, timeout: float = HANG_S, interval: float = 0.05
) -> T:
    """Await ``check()`` until it is truthy and return it; fail after ``timeout`` s saying what never came."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await anyio.sleep(interval)


def until_sync(
    check: Callable[[], T | None], what: str, *, timeout: float = HANG_S, interval: float = 0.05
) -> T:
    """``until`` for a blocking check (a process, a socket, a ``TestClient``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited but not yet reaped by whoever adopted it, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
