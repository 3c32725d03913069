"""What every tool shares: the lifespan state, the result shape, and error translation."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import httpx2
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import (
    CallToolResult,
    ContentBlock,
    EmbeddedResource,
    InputRequiredResult,
    TextContent,
    TextResourceContents,
    ToolAnnotations,
)
from mcp.types import Tool as MCPTool
from pydantic import BaseModel, ValidationError

from byom.config import Settings
from byom.errors import ByomError, describe_validation_error
from byom.tools._listing import StoredToolList, ToolEntry
from byom.untrusted import redact

if TYPE_CHECKING:
    from byom.backend import Backend
    from byom.catalog import Catalog
    from byom.endpoints.trylocal import LocalWeights
    from byom.hub import HubInspector
    from byom.ledger import Ledger

MAX_WAIT_S = 45  # the longest wait a tool offers: hosts time a call out near 60 s

__all__ = [
    "ASKS",
    "DESTRUCTIVE",
    "MAX_WAIT_S",
    "READ_ONLY_OPEN_WORLD",
    "SPENDS",
    "WRITES_NEW_FILE",
    "AppState",
    "ByomMCPServer",
    "app_state",
    "connected_backend",
    "domain_errors",
    "progress_reporter",
    "state",
    "tool_result",
]

# Reads the Hub, Together or the engine: no side effects, safe to repeat; what comes back is untrusted text.
READ_ONLY_OPEN_WORLD = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
# Reads, and writes a new local file only when asked (check_training_data's write_converted): never replaces one.
WRITES_NEW_FILE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
# Creates something that costs money (a job, a deployment); a repeat is deduplicated, not free.
SPENDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
# Sends a prompt (ask_model): deletes and bills nothing, but may download weights into the cache and load a model.
ASKS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
# Stops or deletes something the user made.
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
)


@dataclass
class AppState:
    """Built once per server by the lifespan; every tool reads it from its Context."""

    settings: Settings
    _inspector: HubInspector | None = field(default=None, repr=False)
    # Replaces the network to the backend (tests: the engine app over ASGI); no engine is started then.
    _transport: httpx2.AsyncBaseTransport | None = field(default=None, repr=False)
    _backend: Backend | None = field(default=None, repr=False)
    _ledger: Ledger | None = field(default=None, repr=False)
    _local: Backend | None = field(default=None, repr=False)  # the local engine when Together is the backend
    _weights: LocalWeights | None = field(default=None, repr=False)
    # Work that outlives one tool call (a model's download): cancelled when the server stops.
    _tasks: anyio.abc.TaskGroup | None = field(default=None, repr=False)
    _connect_lock: anyio.Lock = field(default_factory=anyio.Lock, repr=False)

    @property
    def inspector(self) -> HubInspector:
        if self._inspector is None:  # huggingface_hub is imported on first use, not at start-up
            from byom.hub import HubInspector

            self._inspector = HubInspector(self.settings)
        return self._inspector

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            from byom.ledger import Ledger

            self._ledger = Ledger(self.settings.ledger_path)
        return self._ledger

    async def backend(self) -> Backend:
        """The active backend, connected on first use (the local engine started if it is not running)."""
        async with self._connect_lock:
            if self._backend is None:
                from byom.backend import connect

                self._backend = await connect(self.settings, transport=self._transport)
            return self._backend

    async def local_backend(self) -> Backend:
        """The local engine (started if it is not running), also when Together is the job tools' backend."""
        if self.settings.backend == "local":
            return await self.backend()
        async with self._connect_lock:
            if self._local is None:
                from byom.backend import connect_local

                self._local = await connect_local(self.settings, transport=self._transport)
            return self._local

    @property
    def weights(self) -> LocalWeights:
        """Together fine-tunes' weights downloaded to try here, cached under the data dir."""
        if self._weights is None:
            from byom.endpoints.trylocal import LocalWeights

            tasks = self._tasks
            assert tasks is not None, "app_state() starts the task group"
            self._weights = LocalWeights(self.settings.data_dir, tasks.start_soon)
        return self._weights

    async def catalog(self) -> Catalog:
        """The base catalog: Together's live one through the backend's own client (its transport and pool) when
        Together is the backend; otherwise as ``load_catalog`` decides (packaged without a key). Never starts
        the local engine."""
        from byom.catalog import load_catalog

        if self.settings.backend == "together":
            return await load_catalog(self.settings, (await self.backend()).client)
        return await load_catalog(self.settings)

    async def aclose(self) -> None:
        if self._backend is not None:
            await self._backend.aclose()
        if self._local is not None:
            await self._local.aclose()
        if self._ledger is not None:
            self._ledger.close()


@asynccontextmanager
async def app_state(
    settings: Settings,
    *,
    inspector: HubInspector | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AsyncIterator[AppState]:
    app = AppState(settings=settings, _inspector=inspector, _transport=transport)
    try:
        async with anyio.create_task_group() as tasks:
            app._tasks = tasks
            try:
                yield app
            finally:
                tasks.cancel_scope.cancel()  # a download in flight stops; its partial files are removed
    finally:
        with anyio.CancelScope(shield=True):
            await app.aclose()


def state(ctx: Context[AppState, Any]) -> AppState:
    return ctx.request_context.lifespan_context


async def connected_backend(ctx: Context[AppState, Any]) -> Backend:
    """The active backend; failing to reach it (no engine, no key) is a tool error that says what to do."""
    with domain_errors():
        return await state(ctx).backend()


def tool_result(model: BaseModel, text: str, *extra: ContentBlock) -> CallToolResult:
    """The typed result (structuredContent) plus a concise rendering for the model (content)."""
    return CallToolResult(
        content=[TextContent(type="text", text=text), *extra],
        structured_content=model.model_dump(mode="json"),
    )


def progress_reporter(ctx: Context[AppState, Any]) -> Callable[[float, float | None, str], Awaitable[None]]:
    """Progress notifications for a long step (a no-op when the caller did not ask for them).

    ``progress`` must increase: the callback keeps the highest value sent and never goes below it.
    """
    sent = -1.0

    async def report(progress: float, total: float | None, message: str) -> None:
        nonlocal sent
        progress = max(progress, sent + 1e-6)
        sent = progress
        await ctx.report_progress(progress, total, message)

    return report


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn a fixable domain error into a ToolError, the only kind whose message reaches the model."""
    try:
        yield
    except ByomError as exc:
        raise ToolError(str(exc)) from exc


def _without_titles(schema: Any) -> Any:
    """A JSON schema without pydantic's generated ``title`` keywords ("Training File" for training_file).

    They repeat the property names and cost about a tenth of the tool definitions a model reads; a property
    *named* ``title`` is kept (only the keyword inside a schema object is dropped).
    """
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: _without_titles(sub) for name, sub in value.items()}
        else:
            out[key] = _without_titles(value)
    return out


def _strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (JSON-shaped) with ``change`` applied to every string in it; keys are ours and stay."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_strings(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _strings(v, change) for k, v in value.items()}
    return value


class ByomMCPServer(MCPServer[AppState]):
    """``MCPServer`` whose rejected tool arguments read ``field: message``, not pydantic's dump, whose input
    schemas (input and output) carry no generated titles, whose descriptions are dedented, and whose every tool answer and error has secrets removed: the configured
    values, and every generic secret shape (``byom.untrusted.redact``).

    The SDK renders argument errors with ``str(ValidationError)``: the caller's input echoed back and
    a link to pydantic's docs per field, which the model cannot act on. Secrets (TOGETHER_API_KEY, HF_TOKEN,
    WANDB_API_KEY, the engine key) should never reach a message in the first place; this is the last seam. It
    also catches the secrets it was never told about: a key in a log line, a dataset row, the environment of a
    process. It reads text and structured content only: image and audio data (base64) are never matched.
    """

    def __init__(self, *args: Any, secrets: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._secrets = tuple(s for s in secrets if len(s) >= 8)
        self._listed: list[MCPTool] | None = None  # the definitions, built once per set of tools
        self._deferred: tuple[ToolEntry, ...] = ()  # registered when a call first needs them
        self._stored: StoredToolList | None = None

    def defer_tools(self, entries: Sequence[ToolEntry], stored: StoredToolList | None = None) -> None:
        """Offer ``entries`` without importing them: ``tools/list`` answers from ``stored`` when it holds this
        code's definitions; the first call (or a listing ``stored`` cannot answer) imports and registers them."""
        self._deferred = (*self._deferred, *entries)
        self._stored = stored
        self._listed = None

    def _register_deferred(self) -> None:
        entries, self._deferred = self._deferred, ()
        for entry in entries:
            super().add_tool(entry.load(), title=entry.title, annotations=entry.annotations, meta=entry.meta)

    def add_tool(self, *args: Any, **kwargs: Any) -> None:
        self._register_deferred()
        super().add_tool(*args, **kwargs)
        self._listed, self._stored = None, None  # a set of tools no stored answer was made for

    def remove_tool(self, name: str) -> None:
        self._register_deferred()
        super().remove_tool(name)
        self._listed, self._stored = None, None

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        # The SDK asks for a tool's input schema before a call (streamable HTTP's Mcp-Param check).
        self._register_deferred()
        return super()._tool_input_schema(name)

    def _redact(self, text: str) -> str:
        """The configured values first (their mark, ``[redacted]``, says the server knew them), then the shapes."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return redact(text)

    def _redact_block(self, block: ContentBlock) -> ContentBlock:
        if isinstance(block, TextContent):
            return block.model_copy(update={"text": self._redact(block.text)})
        if isinstance(block, EmbeddedResource) and isinstance(block.resource, TextResourceContents):
            resource = block.resource.model_copy(update={"text": self._redact(block.resource.text)})
            return block.model_copy(update={"resource": resource})
        return block  # an image, audio or a link: binary data is not text and is not searched

    async def list_tools(self) -> list[MCPTool]:
        # Hosts list on every connection and often more; the definitions change only with the set of tools.
        if self._listed is None and self._stored is not None:
            self._listed = self._stored.load()
        if self._listed is not None:
            return list(self._listed)
        self._register_deferred()
        tools = await super().list_tools()
        # A docstring's indentation is whitespace every host pays for on every turn: send it dedented.
        self._listed = [
            t.model_copy(
                update={
                    "input_schema": _without_titles(t.input_schema),
                    "output_schema": _without_titles(t.output_schema) if t.output_schema else t.output_schema,
                    "description": inspect.cleandoc(t.description) if t.description else t.description,
                }
            )
            for t in tools
        ]
        if self._stored is not None:
            self._stored.save(self._listed)
        return list(self._listed)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[AppState, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        self._register_deferred()
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError):
                raise
            if not isinstance(cause, ValidationError):
                if self._redact(str(exc)) != str(exc):
                    raise ToolError(self._redact(str(exc))) from None
                raise
            raise ToolError(
                f"Invalid arguments for {name}: {describe_validation_error(cause)}. "
                "Fix them as the input schema says and call again."
            ) from cause
        if isinstance(result, CallToolResult):
            result = result.model_copy(
                update={
                    "content": [self._redact_block(b) for b in result.content],
                    "structured_content": _strings(result.structured_content, self._redact),
                }
            )
        return result
