"""evaluate_model through a real MCP client, against the real engine (its runner stopped: jobs stay queued).

A completed job is Together's answer on the wire (``rewrite_json`` of the job), as in the job_status tests. On
Together (the engine standing in), what the engine does not serve is Together's answer too: its evaluation model
list and its serverless price list (``respond``). The run itself goes to the engine's ``/v1/evaluation`` (issue
#19's engine side): the tests check what is sent, and that whatever comes back is a clean answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from byom.config import Settings
from byom.engine.evals.loss import HeldoutLoss, LossParameters, loss_results
from byom.engine.state import EngineState
from byom.server import build_server
from support.engine import make_constant_model
from support.faults import FaultTransport, respond, rewrite_json
from support.poll import until
from support.spends import spends
from support.tool_calls import call_error, call_ok, text_of

pytestmark = pytest.mark.anyio

EVALS = "/v1/evaluation"
JUDGE = "openai/gpt-oss-120b"


async def _completed_job(c: Client, faults: FaultTransport, tool_args: dict[str, Any], **fields: Any) -> str:
    """A job created through the tools, answered as completed from now on (Together's answer on the wire)."""
    job_id = str((await call_ok(c, "create_finetune", tool_args))["job_id"])
    done = {"status": "completed", "model_output_name": f"byom/tiny-{job_id}", **fields}
    faults.inject(
        "GET", f"/v1/fine-tunes/{job_id}", rewrite_json(lambda body: {**body, **done}), forever=True
    )
    return job_id


async def test_nothing_to_evaluate_says_what_to_pass(byom_settings: Settings, faults: FaultTransport) -> None:
    async with Client(build_server(byom_settings, transport=faults)) as c:
        text = await call_error(c, "evaluate_model", {})
    assert "Say what to evaluate: model=" in text


async def test_a_job_still_running_is_not_evaluated(
    byom_settings: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    async with Client(
        build_server(byom_settings.model_copy(update={"auto_confirm": True}), transport=faults)
    ) as c:
        job_id = (await call_ok(c, "create_finetune", tool_args))["job_id"]
        text = await call_error(c, "evaluate_model", {"model": job_id})
    assert f"Job {job_id} is queued, not completed" in text and "job_status(" in text
    assert faults.count("POST", EVALS) == 0


async def test_a_job_without_validation_data_asks_for_data(
    byom_settings: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    async with Client(
        build_server(byom_settings.model_copy(update={"auto_confirm": True}), transport=faults)
    ) as c:
        job_id = await _completed_job(c, faults, tool_args)
        text = await call_error(c, "evaluate_model", {"model": job_id})
    assert "No data to evaluate on: pass data=" in text


def _end_at_once(faults: FaultTransport) -> None:
    """The ``queued`` engine runs no evaluation: its answer says it ended, so the tool reports at once instead of
    waiting out its bound (these tests check what was asked, not a result)."""
    faults.inject(
        "GET", f"{EVALS}/eval-*", rewrite_json(lambda job: {**job, "status": "error"}), forever=True
    )


async def test_loss_on_the_local_engine_is_free_and_asks_the_engine_for_both_models_and_forgetting(
    byom_settings: Settings,
    faults: FaultTransport,
    tool_args: dict[str, Any],
    train_file: Path,
    tiny_model: Path,
) -> None:
    _end_at_once(faults)
    # No auto-confirm and no elicitation: a free plan needs no confirmation.
    async with Client(build_server(byom_settings, transport=faults)) as c:
        async with Client(
            build_server(byom_settings.model_copy(update={"auto_confirm": True}), transport=faults)
        ) as a:
            job_id = await _completed_job(a, faults, tool_args)
        result = await c.call_tool("evaluate_model", {"model": job_id, "data": str(train_file)})
    assert "Traceback" not in text_of(result)
    if not result.is_error:  # once the engine runs the loss type: the answer says it cost nothing
        assert "Free: the local engine ran it" in text_of(result)
    [body] = faults.bodies("POST", EVALS)
    sent = json.loads(body)
    assert sent["type"] == "loss"
    params = sent["parameters"]
    LossParameters.model_validate(params)  # what the engine's loss type accepts
    assert params["model_a"] == str(tiny_model) and params["model_b"] == f"byom/tiny-{job_id}"
    assert params["forgetting"] is True and params["input_data_file_path"].startswith("file-")


async def test_together_loss_of_a_job_reads_its_own_validation_loss(
    paid: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    async with Client(build_server(paid.model_copy(update={"auto_confirm": True}), transport=faults)) as c:
        job_id = await _completed_job(c, faults, tool_args)
        points = [
            {"train/global_step": 5.0, "eval/loss": 2.0},
            {"train/global_step": 10.0, "eval/loss": 1.25},
        ]
        faults.inject("GET", f"/v1/fine-tunes/{job_id}/metrics", rewrite_json(lambda _: {"metrics": points}))
        out = await call_ok(c, "evaluate_model", {"model": job_id})
    assert "went from 2.000 to 1.250 over 2 evaluations" in out["report"]["verdict"]
    assert "Free" not in out["note"]  # Together: never called free
    assert faults.count("POST", EVALS) == 0


async def test_together_loss_of_a_name_is_refused_with_the_alternatives(
    paid: Settings, faults: FaultTransport
) -> None:
    async with Client(build_server(paid, transport=faults)) as c:
        text = await call_error(
            c, "evaluate_model", {"model": "org/some-model", "baseline": "org/base", "data": "file-1"}
        )
    assert "Together has no held-out loss of two models" in text and "method='compare'" in text


async def test_a_judged_compare_on_together_asks_for_confirmation_with_a_price_before_anything_runs(
    paid: Settings, faults: FaultTransport, tool_args: dict[str, Any], train_file: Path, tiny_model: Path
) -> None:
    faults.inject(
        "GET", f"{EVALS}/model-list", respond({"model_list": ["meta-llama/Other", JUDGE]}), forever=True
    )
    faults.inject(
        "GET", "/v1/models", respond([{"id": JUDGE, "pricing": {"input": 0.15, "output": 0.6}}]), forever=True
    )
    _end_at_once(faults)
    async with Client(build_server(paid.model_copy(update={"auto_confirm": True}), transport=faults)) as a:
        job_id = await _completed_job(a, faults, tool_args)
    files_before = faults.count("POST", "/v1/files")
    args = {"model": job_id, "method": "compare", "data": str(train_file)}
    async with Client(build_server(paid, transport=faults)) as c:  # a host that cannot show a form: a token
        first = await call_ok(c, "evaluate_model", args)
        assert first["status"] == "confirmation_required" and first["confirm_token"]
        plan = first["plan"]
        assert plan["usd"] > 0 and "price: at most $" in plan["summary"]
        assert f"judge: {JUDGE}, both orders per row" in plan["summary"]
        assert faults.count("POST", EVALS) == 0 and faults.count("POST", "/v1/files") == files_before
        second = await c.call_tool("evaluate_model", {**args, "confirm_token": first["confirm_token"]})
    assert "Traceback" not in text_of(second)
    [body] = faults.bodies("POST", EVALS)
    sent = json.loads(body)
    assert sent["type"] == "compare"
    params = sent["parameters"]
    assert params["judge"]["model"] == JUDGE and params["judge"]["model_source"] == "serverless"
    assert (
        params["model_a"]["model"] == str(tiny_model) and params["model_a"]["input_template"] == "{{prompt}}"
    )
    assert (
        params["model_b"]["model"] == f"byom/tiny-{job_id}"
        and params["model_b"]["model_source"] == "dedicated"
    )
    assert params["input_data_file_path"].startswith("file-")
    # The paid evaluation was recorded before it was sent (the daily limit counts it): the job's row, then its own.
    rows = spends(paid)
    assert len(rows) == 2 and rows[1][0] in ("created", "failed")


@pytest.mark.slow
async def test_a_job_that_fits_its_data_has_a_lower_heldout_loss_than_its_base_and_a_forgetting_figure(
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
    byom_settings: Settings,
    tool_args: dict[str, Any],
    train_file: Path,
) -> None:
    """Issue #19's done-when: a few epochs on a small Q&A set, then evaluate_model(method="loss") on that set."""
    auto = byom_settings.model_copy(update={"auto_confirm": True})
    async with Client(build_server(auto, transport=engine_transport[0])) as c:
        job_id = (await call_ok(c, "create_finetune", tool_args))["job_id"]

        async def job_done() -> dict[str, Any] | None:
            status = await call_ok(c, "job_status", {"job_id": job_id, "wait_seconds": 10})
            return status if status["status"] in ("completed", "error", "cancelled", "user_error") else None

        assert (await until(job_done, f"job {job_id} to end", interval=0))["status"] == "completed"
        first = await call_ok(c, "evaluate_model", {"model": job_id, "data": str(train_file)})

        async def evaluated() -> dict[str, Any] | None:
            out = await call_ok(c, "evaluate_model", {"model": first["report"]["evaluation_id"]})
            return out if out["report"]["status"] not in ("pending", "queued", "running") else None

        done = first if first["report"]["status"] == "completed" else await until(evaluated, "the evaluation")
    report = done["report"]
    assert report["status"] == "completed" and report["outcome"] == "better", report
    assert report["forgetting"], report
    measures = [row["measure"] for row in report["table"]]
    assert measures == ["task loss", "task perplexity", "general text loss", "general text perplexity"]


async def test_a_loss_on_the_jobs_own_training_file_says_so_in_the_plan(
    byom_settings: Settings, faults: FaultTransport, tool_args: dict[str, Any], train_file: Path
) -> None:
    """The trial's user evaluated on the file the job trained on, and the report called it held-out."""
    async with Client(
        build_server(byom_settings.model_copy(update={"auto_confirm": True}), transport=faults)
    ) as c:
        job_id = await _completed_job(c, faults, tool_args)
        # The engine's answer once it ran (its runner is stopped here): the fine-tune fits the file better.
        fitted = loss_results(
            HeldoutLoss(example_sums=[20, 22, 21, 23], example_tokens=[10] * 4),
            HeldoutLoss(example_sums=[10, 12, 11, 12], example_tokens=[10] * 4),
        )
        done = {"status": "completed", "results": fitted}
        faults.inject("GET", "/v1/evaluation/eval-*", rewrite_json(lambda b: {**b, **done}), forever=True)
        result = await c.call_tool("evaluate_model", {"model": job_id, "data": str(train_file)})
    assert result.structured_content is not None, text_of(result)
    plan = result.structured_content["plan"]
    assert plan["on_training_data"] is True and "(the job's own training file)" in plan["summary"]
    text = text_of(result)
    assert "held-out" not in text and "loss on its training data is lower" in text
    assert "not whether it generalises" in text and "validation_file" in text


async def test_a_loss_on_preference_pairs_says_what_works_instead(
    byom_settings: Settings, faults: FaultTransport, tool_args: dict[str, Any], tmp_path: Path
) -> None:
    pair = {
        "input": {"messages": [{"role": "user", "content": "capital of France?"}]},
        "preferred_output": [{"role": "assistant", "content": "Paris."}],
        "non_preferred_output": [{"role": "assistant", "content": "I am not sure."}],
    }
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps(pair) + "\n")
    async with Client(
        build_server(byom_settings.model_copy(update={"auto_confirm": True}), transport=faults)
    ) as c:
        job_id = await _completed_job(c, faults, tool_args)
        text = await call_error(c, "evaluate_model", {"model": job_id, "data": str(pairs)})
    # Before: 'Use method "dpo" for this file.', a value evaluate_model's method does not have.
    assert "A loss evaluation scores one answer per prompt" in text and "method='compare'" in text
    assert '"dpo"' not in text and "SFT .jsonl of the same prompts" in text
    assert faults.count("POST", EVALS) == 0


async def test_no_judge_on_the_local_engine_says_how_to_get_one_and_explain_error_agrees(
    byom_settings: Settings, faults: FaultTransport, tool_args: dict[str, Any], train_file: Path
) -> None:
    """A local-only machine serves no third model: the trial's assistant was told to pass 'a model it serves'. And
    what it does serve is the user's own (a later trial's default judge was the fine-tune compared, deployed under
    its endpoint's name): the local engine never picks a judge by itself."""
    faults.inject(
        "GET", f"{EVALS}/model-list", respond({"model_list": ["local/byom-my-fine-tune"]}), forever=True
    )
    async with Client(
        build_server(byom_settings.model_copy(update={"auto_confirm": True}), transport=faults)
    ) as c:
        job_id = await _completed_job(c, faults, tool_args)
        text = await call_error(
            c, "evaluate_model", {"model": job_id, "data": str(train_file), "method": "compare"}
        )
        explained = text_of(await c.call_tool("explain_error", {"error_text": text}))
    assert "No judge to use" in text and 'judge="/path/to/an-instruct-model"' in text
    assert "a model judging itself proves nothing" in text
    assert "loads it on demand" in text and "BYOM_ENGINE_ALLOW_DIRS" in text
    assert "/path/to/an-instruct-model" in explained and "on demand" in explained
    assert faults.count("POST", EVALS) == 0


@pytest.mark.slow
async def test_a_judged_compare_on_together_runs_once_confirmed_and_its_counts_add_up(
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
    paid: Settings,
    tool_args: dict[str, Any],
    train_file: Path,
    tiny_model: Path,
    tmp_path: Path,
) -> None:
    """Issue #19's done-when: evaluate_model(method="compare") on Together (the engine standing in, its runners
    running) asks for confirmation with a price, then returns the judge's counts: A wins, B wins, ties and both
    kinds of failure add up to the samples. The judge is a real tiny model that always answers "A"."""
    judge = str(make_constant_model(tiny_model, tmp_path / "judge-a", "A"))
    wire = FaultTransport(engine_transport[0])
    # Together's own answers that the engine does not serve: its evaluation model list and its price list.
    wire.inject("GET", f"{EVALS}/model-list", respond({"model_list": [judge]}), forever=True)
    wire.inject(
        "GET", "/v1/models", respond([{"id": judge, "pricing": {"input": 0.1, "output": 0.1}}]), forever=True
    )
    async with Client(build_server(paid.model_copy(update={"auto_confirm": True}), transport=wire)) as a:
        job_id = (await call_ok(a, "create_finetune", tool_args))["job_id"]

        async def job_done() -> dict[str, Any] | None:
            status = await call_ok(a, "job_status", {"job_id": job_id, "wait_seconds": 10})
            return status if status["ended"] else None

        assert (await until(job_done, f"job {job_id} to end", interval=0))["status"] == "completed"
    args = {"model": job_id, "method": "compare", "data": str(train_file), "judge": judge}
    async with Client(build_server(paid, transport=wire)) as c:  # a host without forms: the token path
        first = await call_ok(c, "evaluate_model", args)
        assert first["status"] == "confirmation_required" and first["plan"]["usd"] > 0
        assert wire.count("POST", EVALS) == 0
        out = await call_ok(c, "evaluate_model", {**args, "confirm_token": first["confirm_token"]})

        async def evaluated() -> dict[str, Any] | None:
            again = await call_ok(c, "evaluate_model", {"model": out["report"]["evaluation_id"]})
            return again if again["report"]["status"] not in ("pending", "queued", "running") else None

        if out["report"]["status"] in ("pending", "queued", "running"):
            out = await until(evaluated, "the evaluation")
    report = out["report"]
    assert report["status"] == "completed", report
    prefers, unusable = report["table"]
    a_wins, b_wins, ties = (
        int(prefers["baseline"]),
        int(prefers["fine_tuned"]),
        int(prefers["difference"].split()[0]),
    )
    gen_fail, judge_fail = int(unusable["baseline"].split()[0]), int(unusable["fine_tuned"].split()[0])
    n = int(unusable["difference"].split()[1])
    assert n > 0 and a_wins + b_wins + ties + gen_fail + judge_fail == n, report
    assert report["verdict"] and report["outcome"] in ("better", "worse", "same", "unknown")
