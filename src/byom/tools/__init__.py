"""MCP tools: thin wrappers, one module per workflow step."""

from byom.tools._common import (
    ASKS,
    DESTRUCTIVE,
    READ_ONLY_OPEN_WORLD,
    SPENDS,
    WRITES_NEW_FILE,
    AppState,
    ByomMCPServer,
    app_state,
)
from byom.tools._listing import StoredToolList, ToolEntry

__all__ = [
    "ASKS",
    "DESTRUCTIVE",
    "READ_ONLY_OPEN_WORLD",
    "SPENDS",
    "WRITES_NEW_FILE",
    "AppState",
    "ByomMCPServer",
    "StoredToolList",
    "ToolEntry",
    "app_state",
]
