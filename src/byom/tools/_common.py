"""What every tool shares: the lifespan state, the result shape, and error translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ValidationError

from byom.config import Settings
from byom.errors import ByomError, describe_validation_error

if TYPE_CHECKING:
    from byom.hub import HubInspector

__all__ = ["READ_ONLY_OPEN_WORLD", "AppState", "ByomMCPServer", "domain_errors", "state", "tool_result"]

# Reads public metadata from the Hub / Together: no side effects, safe to repeat.
READ_ONLY_OPEN_WORLD = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


@dataclass
class AppState:
    """Built once per server by the lifespan; every tool reads it from its Context."""

    settings: Settings
    _inspector: HubInspector | None = field(default=None, repr=False)

    @property
    def inspector(self) -> HubInspector:
        if self._inspector is None:  # huggingface_hub is imported on first use, not at start-up
            from byom.hub import HubInspector

            self._inspector = HubInspector(self.settings)
        return self._inspector


def state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


def tool_result(model: BaseModel, text: str) -> CallToolResult:
    """The typed result (structuredContent) plus a concise rendering for the model (content)."""
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a fixable domain error into a ToolError, the only kind whose message reaches the model."""
    try:
        yield
    except ByomError as exc:
        raise ToolError(str(exc)) from exc


class ByomMCPServer(MCPServer[AppState]):
    """``MCPServer`` whose rejected tool arguments read ``field: message``, not pydantic's dump.

    The SDK renders argument errors with ``str(ValidationError)``: the caller's input echoed back and
    a link to pydantic's docs per field, which the model cannot act on.
    """

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            raise ToolError(
                f"Invalid arguments for {name}: {describe_validation_error(cause)}. "
                "Fix them as the input schema says and call again."
            ) from cause
