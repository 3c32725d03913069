"""Serving a fine-tuned model behind a dedicated endpoint: the v2 deploy flow, and managing what it made.

``serving.py`` says what a deploy is (arguments, plan, result); ``deploy.py`` plans one (weights, a config with
enough memory, the hourly cost) and runs it: ``attach.py`` (a LoRA adapter onto a running deployment of its
base) or ``create.py`` (endpoint, deployment, traffic split), each undone by ``rollback.py`` on failure;
``manage.py`` reports on, stops, starts and deletes endpoints (ref 2026-11 §3.12–3.13). ``ask.py`` sends a
prompt to a served model (ask_model); ``trylocal.py`` downloads a Together job's weights to serve them here.
"""

import sys
from typing import TYPE_CHECKING, Any

from byom.endpoints.manage import EndpointAction, EndpointReport, ManagePlan, manage, plan_manage
from byom.endpoints.serving import DeployArgs, DeployPlan, DeployResult

if TYPE_CHECKING:
    from byom.endpoints.deploy import deploy, plan_deploy

__all__ = [
    "DeployArgs",
    "DeployPlan",
    "DeployResult",
    "EndpointAction",
    "EndpointReport",
    "ManagePlan",
    "deploy",
    "manage",
    "plan_deploy",
    "plan_manage",
]


def __getattr__(name: str) -> Any:
    # Planning a deploy needs Together's client and shapes: load them on the first deploy, not at start-up.
    # The module shares the name ``deploy`` with its function: the package attribute is the function.
    if name in ("deploy", "plan_deploy"):
        __import__(f"{__name__}.deploy")  # not ``from . import deploy``: that asks this function again
        module = sys.modules[f"{__name__}.deploy"]
        globals().update(deploy=module.deploy, plan_deploy=module.plan_deploy)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
