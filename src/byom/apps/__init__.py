"""Live views in the host (MCP Apps, ``io.modelcontextprotocol/ui``): a job view and an evaluation view.

Each view is one self-contained HTML document (inline CSS and JS, no network: its CSP allows none) that the host
renders in a sandboxed iframe beside a tool's result. The view gets the tool's input and result from the host,
and calls tools back through the host — ``job_status`` to refresh, ``cancel_job`` for its Cancel button, which
answers with cancel_job's own confirmation: a view never goes around it.

Hosts without Apps ignore ``_meta.ui`` and see the tools exactly as before; the views add nothing to what the
model reads (names, descriptions, input schemas).

    job.html / evaluation.html   the views, with <!--HEAD-->, /*BASE_CSS*/ and /*BRIDGE_JS*/ filled in from
    _HEAD, base.css, bridge.js   what both share: the CSP and viewport, the theme, the postMessage JSON-RPC bridge
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from mcp.server.apps import Apps, ResourceCsp

__all__ = ["EVALUATION_VIEW", "JOB_VIEW", "VIEW_OF_TOOL", "apps_for", "view_html"]

JOB_VIEW = "ui://byom/job"
EVALUATION_VIEW = "ui://byom/evaluation"

# Which tool's result a view shows (the tool carries _meta.ui.resourceUri).
VIEW_OF_TOOL = {
    "create_finetune": JOB_VIEW,
    "job_status": JOB_VIEW,
    "evaluate_model": EVALUATION_VIEW,
}
# What every view's <head> starts with: no network at all (inline style and script only, images as data: URLs).
_HEAD = """<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">"""
_DOCUMENTS = {JOB_VIEW: ("job.html", "Fine-tune job"), EVALUATION_VIEW: ("evaluation.html", "Evaluation")}


@cache
def view_html(uri: str) -> str:
    """The view's HTML document, with the shared stylesheet and bridge inlined (it may fetch nothing)."""
    here = files(__package__)
    name, _ = _DOCUMENTS[uri]
    return (
        (here / name)
        .read_text(encoding="utf-8")
        .replace("<!--HEAD-->", _HEAD)
        .replace("/*BASE_CSS*/", (here / "base.css").read_text(encoding="utf-8"))
        .replace("/*BRIDGE_JS*/", (here / "bridge.js").read_text(encoding="utf-8"))
    )


def apps_for(tools: set[str]) -> Apps:
    """The Apps extension with the views of the offered tools (a view goes with its tool)."""
    apps = Apps()
    for uri in sorted({VIEW_OF_TOOL[t] for t in tools if t in VIEW_OF_TOOL}):
        _, title = _DOCUMENTS[uri]
        apps.add_html_resource(
            uri,
            view_html(uri),
            name=uri.removeprefix("ui://").replace("/", "-"),
            title=title,
            description=f"{title}: a live view for hosts that show MCP Apps.",
            csp=ResourceCsp(connect_domains=[], resource_domains=[], frame_domains=[], base_uri_domains=[]),
            prefers_border=True,
        )
    return apps
