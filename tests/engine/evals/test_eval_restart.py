"""An engine killed (``kill -9``) mid-evaluation: after the restart the evaluation has ended, saying why and how
far it got — never stuck ``running`` — and the engine runs the next one."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from support.engine import (
    API_KEY,
    AUTH,
    EngineProcess,
    make_constant_model,
    open_state,
    register_tiny,
    wait_state,
)
from support.evals import FINISHED, judge, serve, upload_rows, wait_status

pytestmark = pytest.mark.slow  # the engine runs as a process, killed and started again

ROWS = [{"prompt": "What do bees make?", "answer_a": "Honey.", "answer_b": "Wax."}]


def _compare(http: httpx2.Client, file_id: str) -> str:
    body = {
        "type": "compare",
        "parameters": {
            "input_data_file_path": file_id,
            "judge": judge("local/judge-a", max_tokens=1),
            "model_a": "answer_a",
            "model_b": "answer_b",
        },
    }
    response = http.post("/v1/evaluation", json=body)
    assert response.status_code == 200, response.text
    eval_id: str = response.json()["workflow_id"]
    return eval_id


def test_a_killed_engine_ends_the_running_evaluation_with_the_reason(
    tmp_path: Path, tiny_model: Path
) -> None:
    data_dir = tmp_path / "engine"
    state = open_state(data_dir)
    model_id = register_tiny(
        state, make_constant_model(tiny_model, tmp_path / "judge-a", "A"), name="judge-a"
    ).id
    state.close()
    engine = EngineProcess(data_dir, tmp_path.parent, api_key=API_KEY).start()
    try:
        with httpx2.Client(base_url=engine.url, headers=AUTH, timeout=60) as http:
            ep, dep = serve(http, model_id, "judge-a")
            long_one = _compare(http, upload_rows(http, ROWS * 6000, "long.jsonl"))  # minutes of judging
            wait_status(http, long_one, "running")
        engine.kill()

        engine = EngineProcess(data_dir, tmp_path.parent, api_key=API_KEY).start()
        with httpx2.Client(base_url=engine.url, headers=AUTH, timeout=60) as http:
            job = http.get(f"/v1/evaluation/{long_one}").json()
            assert job["status"] == "error"
            assert "engine stopped while this evaluation was running" in job["results"]["error"]
            assert [u["status"] for u in job["status_updates"]] == ["pending", "running", "error"]
            # The engine is not stuck: the next evaluation runs, once the judge's deployment is loaded again.
            wait_state(http, ep, dep, "DEPLOYMENT_STATE_READY")
            short_one = _compare(http, upload_rows(http, ROWS, "short.jsonl"))
            done = wait_status(http, short_one, *FINISHED)
            assert done["status"] == "completed" and done["results"]["num_samples"] == 1
    finally:
        engine.stop()
