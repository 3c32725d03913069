"""The trainer's process: started as the leader of its own group, stopped with its children, found again.

Portable through psutil; on POSIX a signal goes to the trainer's process group, which also reaches dataloader
workers that left its tree.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

from byom.storage import open_private

__all__ = ["kill_stale", "signal_trainer", "spawn_trainer"]


def spawn_trainer(argv: list[str], job_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the trainer as the leader of its own process group, its output into trainer.log."""
    group: dict[str, Any] = (
        {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
        if sys.platform == "win32"
        else {"start_new_session": True}
    )
    with os.fdopen(open_private(job_dir / "trainer.log"), "ab") as log_file:
        return subprocess.Popen(
            argv,
            cwd=job_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            **group,
        )


def _tree(pid: int) -> list[psutil.Process]:
    """The process and its descendants (dataloader workers), leader first; gone ones are skipped."""
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []


def signal_trainer(proc: subprocess.Popen[bytes] | int, *, kill: bool) -> None:
    """Stop the trainer and its children: SIGTERM (or SIGKILL) to its group on POSIX, the tree elsewhere."""
    pid = proc if isinstance(proc, int) else proc.pid
    if os.name == "posix":
        import signal

        # The trainer leads its own session: the group reaches workers that left the tree.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
            return
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            (process.kill if kill else process.terminate)()


def kill_stale(pid: int | None, job_dir: Path) -> None:
    """Kill a trainer left by a dead engine, if that pid still is our trainer for this job."""
    if not pid:
        return
    try:
        process = psutil.Process(pid)
        cmdline = " ".join(process.cmdline())
    except psutil.Error:
        return  # gone, or not ours to look at
    if "byom.engine.trainer" not in cmdline or str(job_dir) not in cmdline:
        return  # the pid was reused by another program
    tree = _tree(pid)
    signal_trainer(pid, kill=True)
    for process in tree:  # the tree may outlive a group kill on Windows: kill each member too
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(tree, timeout=5)
