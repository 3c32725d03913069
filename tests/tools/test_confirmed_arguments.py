"""One declaration of each tool's arguments: a confirmed tool's parameters are exactly its workflow's model.

The tool declares its parameters (types and descriptions for the model); the workflow reads them through one
pydantic model (``LaunchArgs``, ``CancelArgs``, ``DeployArgs``, ``ManageArgs``, ``extra="forbid"``).
``Confirmation.bind`` refuses a mismatch at import; these tests say so for every tool of the server. The
other tools have no workflow model: each passes its parameters to one domain call by name.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from mcp import Client
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Resolve

from byom.jobs.cancel import CancelArgs, CancelPlan
from byom.jobs.launch import LaunchArgs
from byom.server import TOOLS, build_server
from byom.tools._confirm import BOUND, Confirm, Confirmation

SPENDS_OR_DELETES = {"create_finetune", "cancel_job", "deploy_endpoint", "manage_endpoint"}
# JSON Schema's bounds on a value: what the tool promises the model it refuses.
LIMITS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern")


@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_every_tool_that_plans_reads_its_arguments_through_one_model(tool: Any) -> None:
    name, fn = tool.name, tool.load()
    if "plan" not in inspect.signature(fn).parameters:
        assert name not in SPENDS_OR_DELETES, f"{name} spends or deletes without a confirmed plan"
        return
    confirmation = BOUND[name]
    assert confirmation.args.model_config.get("extra") == "forbid", confirmation.args
    assert confirmation.parameters(fn) == set(confirmation.args.model_fields)


def test_a_tool_parameter_missing_from_the_workflow_model_is_refused_at_import() -> None:
    async def plan(ctx: Any, args: CancelArgs, limits: Any) -> CancelPlan:
        raise AssertionError("not called")

    drifted = Confirmation("drifted", CancelArgs, plan, CancelPlan)

    async def tool(
        ctx: Any,
        job_id: str,
        reason: str = "",
        confirm_token: str | None = None,
        *,
        plan: Annotated[CancelPlan, Resolve(drifted.plan)],
        answer: Annotated[ElicitationResult[Confirm], Resolve(drifted.answer)],
    ) -> None: ...

    with pytest.raises(TypeError, match=r"only the tool has \['reason'\]"):
        drifted.bind(tool)


def test_the_create_request_reads_every_launch_argument() -> None:
    """The third declaration, ``finetune_request(...)``'s keywords, is fed from ``LaunchArgs``: a field nobody
    reads is an argument the model can pass and the plan silently ignores."""
    from byom.jobs import launch

    source = Path(launch.__file__).read_text(encoding="utf-8")
    unread = [f for f in LaunchArgs.model_fields if not re.search(rf"\bargs\.{f}\b", source)]
    assert unread == []


def _limits(schema: dict[str, Any]) -> dict[str, Any]:
    """The bounds on one property, an optional one's (``anyOf: [{...}, {"type": "null"}]``) included."""
    return {k: v for part in (schema, *schema.get("anyOf", [])) for k, v in part.items() if k in LIMITS}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name",
    [
        "create_finetune",
        "cancel_job",
        "deploy_endpoint",
        "manage_endpoint",
    ],
)
async def test_the_workflow_model_holds_the_bounds_the_tool_declares(name: str) -> None:
    """A workflow called without the tool (another tool, a test, a script) refuses what the tool refuses."""
    async with Client(build_server()) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == name)
    model = BOUND[name].args.model_json_schema()["properties"]
    declared = {p: _limits(s) for p, s in tool.input_schema["properties"].items() if p in model}
    assert {p: _limits(model[p]) for p in declared} == declared
