"""The trainer's parent watchdog: exit when the engine that started us is gone (portable, psutil).

A trainer that outlived its engine would keep writing to a job that the next engine start re-queues,
and keep holding the GPU. The engine passes its pid in ``BYOM_ENGINE_PID``; a daemon thread checks
once a second that this process still exists (same pid and start time, so a reused pid does not
count) and otherwise stops the trainer: at its next step boundary, or after a grace period by
``os._exit`` (both with ``EXIT_ORPHANED``). Works on Linux, macOS and Windows,
unlike Linux's ``PR_SET_PDEATHSIG``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

import psutil

__all__ = ["EXIT_ORPHANED", "PARENT_PID_ENV", "watch_parent"]

log = logging.getLogger("byom.engine.trainer")

PARENT_PID_ENV = "BYOM_ENGINE_PID"
EXIT_ORPHANED = 4


def _identity(pid: int) -> float | None:
    """The process's start time (its identity with the pid), or ``None`` when it does not exist."""
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def watch_parent(
    on_orphaned: Callable[[], None] = lambda: None,
    on_exit: Callable[[], None] = lambda: None,
    *,
    interval_s: float = 1.0,
    grace_s: float = 10.0,
) -> threading.Thread:
    """Start the watchdog thread on the engine's pid (``BYOM_ENGINE_PID``, else our parent's).

    When the engine is gone: call ``on_orphaned`` (the trainer stops at its next step boundary and
    exits by itself), and if the process still runs ``grace_s`` later (stuck in a download or a long
    step), call ``on_exit`` (flush what is pending) and ``os._exit`` with ``EXIT_ORPHANED``.
    """
    raw = os.environ.get(PARENT_PID_ENV, "")
    parent = int(raw) if raw.isdigit() else os.getppid()
    born = _identity(parent)
    original_ppid = os.getppid()

    def alive() -> bool:
        if born is None or _identity(parent) != born:
            return False
        # Our own parent was the engine and changed (re-parented to init / a subreaper).
        return not (parent == original_ppid and os.getppid() != original_ppid)

    def run() -> None:
        while alive():
            time.sleep(interval_s)
        log.warning("the engine process exited; stopping the trainer")
        with contextlib.suppress(Exception):
            on_orphaned()
        time.sleep(grace_s)
        with contextlib.suppress(Exception):
            on_exit()
        os._exit(EXIT_ORPHANED)

    thread = threading.Thread(target=run, name="byom-parent-watchdog", daemon=True)
    thread.start()
    return thread
