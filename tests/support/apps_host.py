"""A minimal MCP Apps host in headless Chromium: the view in a sandboxed iframe, the Apps protocol on postMessage
(``ui/initialize``, the tool-input and tool-result notifications), and ``tools/call`` proxied to a real byom-mcp
through the MCP client the test holds. What a person would see is then read from the page.

Chromium is Debian's (``/usr/bin/chromium``: ``apt-get install chromium``), driven by Playwright's Python package
with that executable: no browser download. ``.ci/run`` installs it and sets ``BYOM_BROWSER_REQUIRED=1``, so a
missing browser fails CI loudly instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from mcp.types import CallToolResult

__all__ = ["CHROMIUM", "Host", "chromium_or_skip", "open_host"]

CHROMIUM = os.environ.get("BYOM_CHROMIUM", "/usr/bin/chromium")
# The flags the machine notes give for a closed network: no background connections, no first-run work.
_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

_HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>host</title></head>
<body style="margin:0"><iframe id="view" sandbox="allow-scripts" style="width:%(width)dpx;height:900px;border:0">
</iframe>
<script>
const frame = document.getElementById("view");
const host = window.__host = { calls: [], initialized: false, ready: null };
host.ready = new Promise((resolve) => { host.markReady = resolve; });
const post = (message) => frame.contentWindow.postMessage({ jsonrpc: "2.0", ...message }, "*");
host.deliver = (args, result) => {
  post({ method: "ui/notifications/tool-input", params: { arguments: args } });
  post({ method: "ui/notifications/tool-result", params: result });
};
window.addEventListener("message", async (event) => {
  if (event.source !== frame.contentWindow) return;
  const msg = event.data;
  if (msg.method === "ui/initialize") {
    post({ id: msg.id, result: { protocolVersion: "2026-01-26", hostInfo: { name: "test host", version: "1" },
      hostCapabilities: { serverTools: {} }, hostContext: { theme: "%(theme)s", displayMode: "inline" } } });
  } else if (msg.method === "ui/notifications/initialized") {
    host.initialized = true; host.markReady();
  } else if (msg.method === "tools/call") {
    host.calls.push(msg.params.name);
    try {
      post({ id: msg.id, result: JSON.parse(await window.hostCallTool(msg.params.name,
        JSON.stringify(msg.params.arguments || {}))) });
    } catch (error) {
      post({ id: msg.id, error: { code: -32603, message: String(error) } });
    }
  } else if (msg.id !== undefined && msg.method) {
    post({ id: msg.id, result: {} });
  }
});
</script></body></html>"""


def chromium_or_skip() -> None:
    """Skip where no Chromium is installed, unless CI said it must be there."""
    pytest.importorskip(
        "playwright.async_api", reason="the browser tests need playwright (pip install playwright)"
    )
    if shutil.which(CHROMIUM) is None and not os.path.exists(CHROMIUM):
        if os.environ.get("BYOM_BROWSER_REQUIRED"):
            pytest.fail(f"BYOM_BROWSER_REQUIRED is set but {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@dataclass
class Host:
    page: Any  # playwright.async_api.Page
    frame: Any  # the view's FrameLocator
    console_errors: list[str] = field(default_factory=list)

    async def deliver(self, arguments: dict[str, Any], result: CallToolResult) -> None:
        """What a host does after a tool call: hand the view the call's input and its result."""
        await self.page.evaluate("() => window.__host.ready")
        wire = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        await self.page.evaluate("([a, r]) => window.__host.deliver(a, r)", [arguments, wire])

    async def calls(self) -> list[str]:
        """The tools the view called through the host, in order."""
        return list(await self.page.evaluate("() => window.__host.calls"))


@asynccontextmanager
async def open_host(
    view_html: str,
    call_tool: Callable[[str, dict[str, Any]], Awaitable[CallToolResult]],
    *,
    theme: str = "light",
    width: int = 420,
) -> AsyncIterator[Host]:
    """Chromium with the host page and ``view_html`` in its iframe; ``call_tool`` answers the view's tool calls."""
    from playwright.async_api import async_playwright

    async def host_call_tool(name: str, arguments: str) -> str:
        result = await call_tool(name, json.loads(arguments))
        return json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": width + 20, "height": 1000})
            host = Host(page=page, frame=page.frame_locator("#view"))
            page.on("console", lambda m: host.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: host.console_errors.append(str(e)))
            await page.expose_function("hostCallTool", host_call_tool)
            await page.set_content(_HOST_PAGE % {"width": width, "theme": theme})
            # srcdoc: the view gets an opaque origin, as in a host's sandbox.
            await page.evaluate("(html) => { document.getElementById('view').srcdoc = html; }", view_html)
            yield host
        finally:
            await browser.close()
