"""Append ProgressLine JSON lines to <job_dir>/progress.jsonl, one flushed line at a time."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from byom.engine.trainer.spec import progress_line
from byom.storage import open_private, private_dir

__all__ = ["ProgressWriter"]


class ProgressWriter:
    """The trainer's only output channel to the engine."""

    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        self._file = os.fdopen(open_private(path), "a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        line = progress_line({"kind": kind, "time": time.time(), **fields})
        self._file.write(json.dumps(line.model_dump(mode="json"), default=str) + "\n")
        self._file.flush()
        # fsync-light: flush every line (the engine tails the file); fsync only the lines that
        # record durable state, so a metric per step costs no disk sync.
        if kind in ("checkpoint", "result", "error"):
            os.fsync(self._file.fileno())

    def event(self, type_: str, message: str, level: str = "info", **extra: Any) -> None:
        self.write("event", type=type_, message=message, level=level, **extra)

    def close(self) -> None:
        self._file.close()
