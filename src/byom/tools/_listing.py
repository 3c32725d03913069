"""The tools a server offers, imported on first use, and its ``tools/list`` answer kept on disk between starts.

A host starts every configured server when it launches and lists its tools at once. Building that answer
means importing every tool's workflow modules and generating each tool's input and output JSON schema: about
200 ms of an 850 ms start on a 2-core machine, more than the whole of a reference server's own work. The
answer depends only on the code and on which tools are offered, so it is stored under the cache dir, keyed
by both, and the tools are imported and registered when a call first needs them. A stale, unreadable or
foreign copy is ignored and rewritten; a copy that cannot be written (a read-only home) costs nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mcp
import mcp_types
import pydantic
import pydantic_core
from mcp.types import Tool as MCPTool
from mcp.types import ToolAnnotations

import byom

__all__ = ["StoredToolList", "ToolEntry", "code_fingerprint"]

logger = logging.getLogger(__name__)

_FORMAT = 1  # the stored file's layout; a new layout is a new number


@dataclass(frozen=True)
class ToolEntry:
    """A tool to register: the module its function lives in (imported on first use) and how it is listed."""

    module: str
    name: str
    title: str
    annotations: ToolAnnotations
    meta: dict[str, Any] | None = None

    def load(self) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(importlib.import_module(self.module), self.name)
        return fn

    def identity(self) -> str:
        """Everything about the entry that shapes its definition, as text."""
        return json.dumps(
            [self.module, self.name, self.title, self.annotations.model_dump(mode="json"), self.meta],
            sort_keys=True,
        )


def code_fingerprint(source: Path = Path(byom.__file__ or "").parent) -> str:
    """What the definitions are generated from: the source files under ``source`` (path, size, mtime), the
    installed SDK, types and pydantic packages (a reinstall rewrites their folders), and the interpreter."""
    parts: list[str] = [sys.version]
    for package in (mcp, mcp_types, pydantic, pydantic_core):
        folder = Path(package.__file__ or "").parent
        parts.append(f"{folder}:{folder.stat().st_mtime_ns}")
    for here, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                found = os.stat(os.path.join(here, name))
                parts.append(f"{here}/{name}:{found.st_size}:{found.st_mtime_ns}")
    return "\n".join(parts)


class StoredToolList:
    """The ``tools/list`` answer for one set of tools, in one file under the cache dir (0600, in a 0700 dir)."""

    def __init__(self, cache_dir: Path, entries: Sequence[ToolEntry]) -> None:
        tools = "\n".join(e.identity() for e in entries)
        # One file per set of tools: two hosts configured with different BYOM_TOOLS do not overwrite each other.
        self.path = cache_dir / f"tools-list-{hashlib.sha256(tools.encode()).hexdigest()[:12]}.json"
        key = "\n".join([str(_FORMAT), code_fingerprint(), tools])
        self.key = hashlib.sha256(key.encode()).hexdigest()

    def load(self) -> list[MCPTool] | None:
        """The stored definitions, or None when there are none for this code and this set of tools."""
        try:
            stored = json.loads(self.path.read_bytes())
            if not isinstance(stored, dict) or stored.get("key") != self.key:
                return None
            return [MCPTool.model_validate(t) for t in stored["tools"]]
        except (OSError, ValueError, KeyError, TypeError, pydantic.ValidationError):
            return None

    def save(self, tools: Sequence[MCPTool]) -> None:
        payload = json.dumps(
            {
                "key": self.key,
                "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
            }
        )
        from byom.storage import open_private, private_dir  # SQLite's module with it: only when writing

        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            private_dir(self.path.parent)
            with os.fdopen(open_private(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "w") as fh:
                fh.write(payload)
            os.replace(partial, self.path)  # atomic: two servers starting at once never read half a file
        except OSError as exc:
            logger.debug("tools/list not stored at %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
