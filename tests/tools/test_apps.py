"""The MCP App views as the protocol carries them: bound to their tools, served as self-contained documents, and
invisible to what the model reads."""

from __future__ import annotations

import json
import re

import pytest
from mcp import Client

from byom.apps import EVALUATION_VIEW, JOB_VIEW, VIEW_OF_TOOL, view_html
from byom.config import Settings
from byom.server import build_server

pytestmark = pytest.mark.anyio


async def test_job_tools_carry_the_job_view_and_it_is_served_as_an_app() -> None:
    async with Client(build_server()) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        for name in ("create_finetune", "job_status"):
            assert tools[name].meta == {"ui": {"resourceUri": JOB_VIEW}}
        assert all(t.meta is None for n, t in tools.items() if n not in VIEW_OF_TOOL)
        read = await client.read_resource(JOB_VIEW)
    (content,) = read.contents
    assert content.mime_type == "text/html;profile=mcp-app"
    assert content.meta is not None
    csp = content.meta["ui"]["csp"]
    assert all(domains == [] for domains in csp.values()), "a view may reach no network"


@pytest.mark.parametrize("uri", sorted(set(VIEW_OF_TOOL.values())))
def test_each_view_is_one_self_contained_document(uri: str) -> None:
    if uri == EVALUATION_VIEW:
        pytest.importorskip("byom.tools.evaluate", reason="evaluate_model is not built yet")
    html = view_html(uri)
    assert "/*BASE_CSS*/" not in html and "/*BRIDGE_JS*/" not in html and "<!--HEAD-->" not in html
    assert "default-src 'none'" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no external resources"
    assert "fetch(" not in html and "XMLHttpRequest" not in html and ".innerHTML" not in html


async def test_a_view_goes_with_its_tool() -> None:
    """BYOM_TOOLS without the job tools: no job view is offered."""
    settings = Settings(tools=("inspect_hf_model",))
    async with Client(build_server(settings)) as client:
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
    assert JOB_VIEW not in uris


async def test_the_model_reads_nothing_more_for_the_views() -> None:
    """What hosts put in the model's context (name, description, input schema) has no trace of the views."""
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools
    seen = json.dumps(
        [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in tools]
    )
    assert "ui://" not in seen
