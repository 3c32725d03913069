"""Calling byom-mcp's tools in tests: the result of a call that must succeed, or the text of one that must fail."""

from __future__ import annotations

from typing import Any

from mcp import Client
from mcp.types import TextContent

__all__ = ["call_error", "call_ok", "text_of"]


def text_of(result: Any) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


async def call_ok(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """The structured content of a call that must succeed."""
    result = await client.call_tool(name, args)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def call_error(client: Client, name: str, args: dict[str, Any]) -> str:
    """The message of a call that must end in a tool error (never a traceback)."""
    result = await client.call_tool(name, args)
    assert result.is_error, text_of(result)
    text = text_of(result)
    assert text and "Traceback" not in text and 'File "' not in text, text
    return text
