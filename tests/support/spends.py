"""The MCP server's ledger of creates, read straight from its file (read-only: the server may hold it open)."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from byom.config import Settings

__all__ = ["spends"]


def spends(settings: Settings) -> list[tuple[str, str | None]]:
    """The ledger's create rows, oldest first: ``(state, resource_id)``."""
    with closing(sqlite3.connect(f"file:{settings.ledger_path}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT state, resource_id FROM spends ORDER BY id").fetchall()
