"""MCP tools: thin wrappers, one module per workflow step."""

from byom.tools._common import READ_ONLY_OPEN_WORLD, AppState, ByomMCPServer

__all__ = ["READ_ONLY_OPEN_WORLD", "AppState", "ByomMCPServer"]
