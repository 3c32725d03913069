"""HTTP requests and weight bytes per model inspection, byom.hub vs the plain huggingface_hub route.

Runs both against the in-process fake Hub used by tests/hub (no network). For every fixture repo it prints the
requests of a cold and a warm ``HubInspector.inspect`` and of a baseline that uses huggingface_hub's usual helpers
(``model_info`` + ``hf_hub_download`` of config/tokenizer config + ``get_safetensors_metadata``), and the tensor-data
bytes each pulled. Usage: ``python bench/inspect_requests.py``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# Keep huggingface_hub's caches (and its once-a-day telemetry file) away from the real home.
_TMP = tempfile.mkdtemp(prefix="byom-bench-")
os.environ["HF_HOME"] = os.path.join(_TMP, "hf")
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import NotASafetensorsRepoError

from byom.config import Settings
from byom.errors import HubError
from byom.hub import HubInspector
from support.fakehub import ENDPOINT, FakeHub
from support.hubrepos import standard_repos


def baseline(api: HfApi, repo_id: str, cache_dir: str) -> None:
    """What a script using huggingface_hub's ordinary helpers would do for the same answer."""
    info = api.model_info(repo_id)
    files = {s.rfilename for s in info.siblings or []}
    for name in ("config.json", "adapter_config.json", "tokenizer_config.json"):
        if name in files:
            hf_hub_download(
                repo_id, name, revision=info.sha, cache_dir=cache_dir, endpoint=ENDPOINT, token=False
            )
    try:
        api.get_safetensors_metadata(repo_id, revision=info.sha)
    except NotASafetensorsRepoError:
        pass


def main() -> None:
    hub = FakeHub(standard_repos())
    rows = []
    with hub.installed():
        api = HfApi(endpoint=ENDPOINT, token=False)
        inspector = HubInspector(Settings(cache_dir=Path(_TMP) / "byom"), api=api)
        for repo in standard_repos():
            repo_id = repo.repo_id
            hub.reset_counts()
            t0 = time.perf_counter()
            try:
                inspector.inspect(repo_id)
                outcome = "report"
            except HubError as exc:
                outcome = type(exc).__name__
            cold_s = time.perf_counter() - t0
            cold, cold_bytes = len(hub.requests), hub.weight_bytes
            hub.reset_counts()
            t0 = time.perf_counter()
            try:
                inspector.inspect(repo_id)
            except HubError:
                pass
            warm_s = time.perf_counter() - t0
            warm = len(hub.requests)
            hub.reset_counts()
            try:
                baseline(api, repo_id, os.path.join(_TMP, "hf-cache"))
            except (
                OSError
            ) as exc:  # huggingface_hub's errors (HfHubHTTPError is an OSError) are part of the run
                outcome += f" (baseline: {type(exc).__name__})"
            rows.append(
                (
                    repo_id,
                    outcome,
                    cold,
                    warm,
                    cold_bytes,
                    len(hub.requests),
                    hub.weight_bytes,
                    cold_s * 1e3,
                    warm_s * 1e3,
                )
            )
        telemetry = len(hub.telemetry)

    head = (
        f"{'repo':38} {'outcome':40} {'cold':>4} {'warm':>4} {'wbytes':>6} | {'base':>4} {'base wbytes':>11}"
        f" {'ratio':>5} | {'cold ms':>7} {'warm ms':>7}"
    )
    print(head)
    print("-" * len(head))
    for repo_id, outcome, cold, warm, wb, base, base_wb, cold_ms, warm_ms in rows:
        ratio = f"{base / cold:.1f}x" if cold else "-"
        print(
            f"{repo_id:38} {outcome[:40]:40} {cold:>4} {warm:>4} {wb:>6} | {base:>4} {base_wb:>11,} {ratio:>5} |"
            f" {cold_ms:>7.1f} {warm_ms:>7.2f}"
        )
    colds = [r[2] for r in rows]
    reports = [r for r in rows if r[1] == "report"]
    print()
    print(
        f"byom cold inspect: max {max(colds)} requests (limit 4), mean {sum(colds) / len(colds):.2f}; "
        f"warm (within TTL): max {max(r[3] for r in reports)} for {len(reports)} reports "
        f"(errors are not cached, so a repeat retries); weight bytes pulled: {sum(r[4] for r in rows)}"
    )
    print(
        f"baseline: max {max(r[5] for r in rows)} requests, mean {sum(r[5] for r in rows) / len(rows):.2f}; "
        f"weight bytes pulled: {sum(r[6] for r in rows):,}"
    )
    print(
        f"huggingface_hub telemetry (agent-harness registry, once per 24 h per HF_HOME, not per inspect): "
        f"{telemetry} request(s) in this run; HF_HUB_DISABLE_TELEMETRY=1 turns it off"
    )


if __name__ == "__main__":
    main()
