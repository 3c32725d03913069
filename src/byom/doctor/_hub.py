"""The Hugging Face Hub: reachable, or offline mode (only Hub model ids need it)."""

from __future__ import annotations

import httpx2
from pydantic import BaseModel

from byom.doctor._check import Check

__all__ = ["HubInfo", "check_hub", "probe_hub"]

_HUB_TIMEOUT_S = 3.0


class HubInfo(BaseModel):
    endpoint: str
    offline_mode: bool
    reachable: bool | None  # None: not tried (offline mode)
    answer: str


def probe_hub() -> HubInfo:
    from huggingface_hub import constants

    endpoint = constants.ENDPOINT.rstrip("/")
    if constants.HF_HUB_OFFLINE:
        return HubInfo(endpoint=endpoint, offline_mode=True, reachable=None, answer="offline mode set")
    try:
        # No token sent: any HTTP answer (401 included) proves the Hub is reachable.
        resp = httpx2.get(f"{endpoint}/api/whoami-v2", timeout=_HUB_TIMEOUT_S)
    except httpx2.HTTPError as exc:
        return HubInfo(
            endpoint=endpoint, offline_mode=False, reachable=False, answer=f"no answer ({type(exc).__name__})"
        )
    return HubInfo(endpoint=endpoint, offline_mode=False, reachable=True, answer=f"HTTP {resp.status_code}")


def check_hub(hub: HubInfo) -> Check:
    if hub.offline_mode:
        return Check(
            name="hub",
            status="warning",
            detail=f"HF_HUB_OFFLINE is set: Hub model ids come from the local cache only ({hub.endpoint})",
            fix="Unset HF_HUB_OFFLINE to inspect Hub models; local model directories work either way.",
        )
    if hub.reachable:
        return Check(name="hub", status="ok", detail=f"{hub.endpoint} reachable ({hub.answer})")
    # Only Hub model ids need it: a local directory trains and serves without the network.
    return Check(
        name="hub",
        status="warning",
        detail=f"{hub.endpoint} is not reachable: {hub.answer}; Hub model ids cannot be inspected or downloaded",
        fix="Local model directories still work. For the Hub: check the network, set HTTPS_PROXY, or HF_ENDPOINT "
        "to a mirror.",
    )
