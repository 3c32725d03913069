"""byom-mcp: bring-your-own-model fine-tuning, in conversation, over MCP."""

__version__ = "0.1.0"
