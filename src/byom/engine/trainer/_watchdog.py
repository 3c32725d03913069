"""The trainer's parent watchdog: exit when the engine that started us is gone (portable, psutil).

A trainer that outlived its engine would keep writing to a job that the next engine start re-queues,
and keep holding the GPU. The engine passes its pid in ``BYOM_ENGINE_PID``; a daemon thread checks
once a second that this process still exists (same pid and start time, so a reused pid does not
count) and otherwise ends the trainer with ``EXIT_ORPHANED``. Works on Linux, macOS and Windows,
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
    on_orphaned: Callable[[], None] = lambda: None, *, interval_s: float = 1.0
) -> threading.Thread | None:
    """Start the watchdog thread on the engine's pid (``BYOM_ENGINE_PID``, else our parent's).

    When the engine is gone: call ``on_orphaned`` (flush what is pending), then ``os._exit`` with
    ``EXIT_ORPHANED`` (no cleanup can be trusted to finish once the engine is gone). ``None`` if the
    parent is already gone at start (the caller then exits as it would have).
    """
    raw = os.environ.get(PARENT_PID_ENV, "")
    parent = int(raw) if raw.isdigit() else os.getppid()
    born = _identity(parent)
    if born is None:
        _exit(on_orphaned)
    original_ppid = os.getppid()

    def alive() -> bool:
        if _identity(parent) != born:
            return False
        # Our own parent was the engine and changed (re-parented to init / a subreaper).
        return not (parent == original_ppid and os.getppid() != original_ppid)

    def run() -> None:
        while alive():
            time.sleep(interval_s)
        _exit(on_orphaned)

    thread = threading.Thread(target=run, name="byom-parent-watchdog", daemon=True)
    thread.start()
    return thread


def _exit(on_orphaned: Callable[[], None]) -> None:
    log.warning("the engine process exited; stopping the trainer")
    with contextlib.suppress(Exception):
        on_orphaned()
    os._exit(EXIT_ORPHANED)
