"""Serving a fine-tuned model behind a dedicated endpoint: the v2 deploy flow, and managing what it made.

``serving.py`` says what a deploy is (arguments, plan, result); ``deploy.py`` plans one (weights, a config with
enough memory, the hourly cost) and runs it: ``attach.py`` (a LoRA adapter onto a running deployment of its
base) or ``create.py`` (endpoint, deployment, traffic split), each undone by ``rollback.py`` on failure;
``manage.py`` reports on, stops, starts and deletes endpoints (ref 2026-11 §3.12–3.13). ``ask.py`` sends a
prompt to a served model (ask_model); ``trylocal.py`` downloads a Together job's weights to serve them here.
"""

from byom.endpoints.deploy import deploy, plan_deploy
from byom.endpoints.manage import EndpointAction, EndpointReport, ManagePlan, manage, plan_manage
from byom.endpoints.serving import DeployArgs, DeployPlan, DeployResult

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
