"""Serving a fine-tuned model behind a dedicated endpoint: the v2 deploy flow, and managing what it made.

``deploy.py`` plans a deployment (weights, a config with enough memory, the hourly cost) and carries it
out with rollback; ``manage.py`` reports on, stops, starts and deletes endpoints (ref 2026-11 §3.12–3.13).
"""

from byom.endpoints.deploy import DeployArgs, DeployPlan, DeployResult, deploy, plan_deploy
from byom.endpoints.manage import EndpointAction, EndpointReport, ManagePlan, manage, plan_manage

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
