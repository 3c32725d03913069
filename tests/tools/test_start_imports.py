"""Start-up does as little as it can: ``import byom.server``, ``build_server()`` and the first ``tools/list`` load
only what the tools' argument and result types need. A host starts every configured server at launch, so each
module below loads on the first call that uses it (issue #20: start no slower than mcp-server-fetch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each loads on first use; the reason is what it costs or drags in.
DEFERRED = {
    "byom.together._client": "Together's HTTP client: the first backend call",
    "byom.together._requests": "the request bodies: the first create or deploy",
    "byom.together._endpoints": "the /v2 endpoint shapes: the first deploy",
    "byom.together._registry": "the /v2 registry shapes: the first deploy",
    "byom.together._inference": "the completion shapes: the first deploy's proof",
    "byom.together._upload": "the multipart upload: the first create",
    "byom.catalog._live": "the live catalog refresh (Together's client)",
    "byom.catalog._prices": "the rate table: the first price",
    "byom.data._check": "the data checker: the first check",
    "byom.data._checker": "the rules and the report around them: the first check",
    "byom.data._fast": "the msgspec fast path: the first check",
    "byom.data._layouts": "the layout converters: the first check",
    "byom.triage._explain": "the explanation: the first failed job",
    "byom.triage._root": "the root finder's regexes: the first failed job",
    "byom.hub._analyze": "the Hub analyser: the first inspection or recommendation",
    "byom.hub._local": "the local model reader: the first inspection",
    "byom.hub.inspector": "huggingface_hub: the first inspection",
    "byom.endpoints.deploy": "the deploy plan (Together's shapes): the first deploy",
    "huggingface_hub": "the first inspection",
    "msgspec": "the first data check",
    "yaml": "the failure patterns: the first explanation",
    "jinja2": "chat templates: the first token count",
    "transformers": "the first token count",
    "torch": "the engine's trainer only",
}

_START = """
import json, sys
import anyio
from byom.server import build_server
anyio.run(build_server().list_tools)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.slow  # a fresh interpreter: sys.modules of this one holds whatever earlier tests imported
def test_start_up_and_the_first_tools_list_import_nothing_deferred() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _START], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(json.loads(done.stdout))
    early = {name: why for name, why in DEFERRED.items() if name in loaded}
    assert not early, f"loaded at start, but each should load on first use: {early}"


# With the definitions stored by an earlier start, not even the tools' own modules load before the first call.
TOOL_MODULES = (
    "byom.tools.inspect",
    "byom.tools.recommend",
    "byom.tools.data",
    "byom.tools.jobs",
    "byom.tools.triage",
    "byom.tools.evaluate",
    "byom.tools.deploy",
    "byom.tools.ask",
    "byom.jobs.status",
    "byom.jobs.launch",
    "byom.catalog",
    "byom.evaluate",
    "byom.endpoints",
)


@pytest.mark.slow  # two fresh interpreters
def test_a_start_after_the_first_lists_the_stored_definitions_and_imports_no_tool(tmp_path: Path) -> None:
    env = {**os.environ, "BYOM_CACHE_DIR": str(tmp_path)}
    listed = (
        _START
        + "print(json.dumps([t.model_dump(mode='json') for t in anyio.run(build_server().list_tools)]))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", listed], capture_output=True, text=True, check=True, timeout=120, env=env
        )
        for _ in range(2)
    ]
    first, second = ([json.loads(line) for line in run.stdout.splitlines()] for run in runs)
    assert first[1] == second[1] and len(second[1]) == 12  # the same twelve definitions
    assert {"byom.tools.jobs", "byom.jobs.status"} <= set(first[0])  # the first start built them
    early = [name for name in TOOL_MODULES if name in set(second[0])]
    assert not early, f"loaded at a start with stored definitions: {early}"
