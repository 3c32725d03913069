"""MCP tools: thin wrappers, one module per workflow step."""
