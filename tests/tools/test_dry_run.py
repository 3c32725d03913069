"""A dry run (#16): create_finetune and deploy_endpoint with dry_run=true return the whole plan, with no side
effect and no confirmation: asserted on the backend (the real engine over ASGI), never on byom's own word.

The plan itself is what a user needs to trust before spending: examples → packed sequences → optimizer steps,
every method parameter with its source, warnings with their fix when the run would train nothing, method-aware
defaults, the day's spend, and a local job held to no Together base's limits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult

from byom.catalog import LOCAL_TEMPLATE
from byom.config import Settings
from byom.engine.state import EngineState
from byom.jobs.status import job_line
from byom.server import build_server
from byom.together import FinetuneResponse
from support.engine import P, register_tiny
from support.faults import FaultTransport, engine_files, engine_jobs, rewrite_json
from support.spends import spends
from support.tool_calls import call_ok, text_of

pytestmark = pytest.mark.anyio

ESTIMATE = "/v1/fine-tunes/estimate-price"


class Asked:
    """An elicitation callback that records every form the server shows (a dry run must show none)."""

    def __init__(self) -> None:
        self.forms: list[str] = []

    async def __call__(self, _context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.forms.append(getattr(params, "message", ""))
        return ElicitResult(action="accept", content={"confirm": True})


def client(settings: Settings, transport: Any, asked: Asked) -> Client:
    return Client(build_server(settings, transport=transport), elicitation_callback=asked)


def nothing_sent(faults: FaultTransport) -> None:
    for method, path in (("POST", "/v1/files"), ("POST", "/v1/fine-tunes"), ("POST", ESTIMATE)):
        assert faults.count(method, path) == 0, (method, path)


def setting(plan: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in plan["settings"] if s["name"] == name)


async def test_a_dry_run_on_the_local_engine_creates_uploads_and_asks_nothing(
    byom_settings: Settings,
    faults: FaultTransport,
    queued_state: EngineState,
    tool_args: dict[str, Any],
) -> None:
    asked = Asked()
    async with client(byom_settings, faults, asked) as c:
        result = await c.call_tool("create_finetune", {**tool_args, "dry_run": True})
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert (
        out is not None
        and out["status"] == "dry_run"
        and out["confirm_token"] is None
        and out["job_id"] is None
    )
    assert asked.forms == []
    assert engine_jobs(queued_state) == [] and engine_files(queued_state) == []
    nothing_sent(faults)
    assert spends(byom_settings) == []  # nothing claimed in the ledger either
    plan = out["plan"]
    assert plan["dry_run"] is True and "Start this fine-tune?" not in plan["summary"]
    assert "Dry run: nothing was created" in plan["summary"]


async def test_a_local_plan_is_held_to_no_together_base_and_says_its_steps_and_their_warnings(
    byom_settings: Settings,
    faults: FaultTransport,
    queued_state: EngineState,
    tool_args: dict[str, Any],
) -> None:
    # Before #16 the local job got recommend_base's pick (DeepSeek-R1-Distill-Llama-8B) and its batch limits;
    # the plan said "batch 8, 16 rows" and nothing about the one packed sequence and its 3 steps.
    args = {**tool_args, "dry_run": True, "batch_size": "max", "lora_r": None, "lora_alpha": None}
    async with client(byom_settings, faults, Asked()) as c:
        plan = (await call_ok(c, "create_finetune", args))["plan"]
    assert plan["model"] == LOCAL_TEMPLATE and plan["model_source"] == "local"
    schedule = plan["schedule"]
    assert schedule["examples"] == 16 and schedule["packing"] is True
    assert schedule["sequences"] < schedule["examples"]  # short rows pack: that is the effect stated
    assert schedule["total_steps"] == schedule["steps_per_epoch"] * 3 < 10
    assert f"16 example(s) packed into {schedule['sequences']} sequence(s)" in plan["summary"]
    assert any(
        w.startswith(f"Only {schedule['total_steps']} optimizer step(s)") and "Fix:" in w
        for w in plan["warnings"]
    )
    assert any("Only 16 example(s)" in w for w in plan["warnings"])
    hidden = json.loads((Path(tool_args["from_hf_model"]) / "config.json").read_text())["hidden_size"]
    rank = setting(plan, "lora_r")
    assert rank["source"] == "derived" and rank["value"] <= hidden // 8
    assert f"lora_r {rank['value']} (derived: hidden {hidden})" in plan["summary"]
    assert setting(plan, "batch_size")["value"] == f"max → {schedule['batch_size']}"
    assert setting(plan, "n_epochs")["source"] == "you"
    assert plan["duration"]["basis"].startswith("Time: not measured on this machine yet")
    # The length's limits named as what they are: no Together base here, the local engine's own cap.
    context = json.loads((Path(tool_args["from_hf_model"]) / "config.json").read_text())[
        "max_position_embeddings"
    ]
    assert plan["max_seq_length"] == context
    assert plan["max_seq_length_basis"] == (
        f"max_seq_length {context:,}: the smallest of the model's context {context:,} (config.json), "
        "the local engine's limit 131,072."
    )
    assert "the base's limit" not in plan["summary"]


async def test_a_rank_large_against_the_hidden_size_is_a_warning_with_the_fix(
    byom_settings: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    async with client(byom_settings, faults, Asked()) as c:
        plan = (await call_ok(c, "create_finetune", {**tool_args, "dry_run": True, "lora_r": 64}))["plan"]
    assert setting(plan, "lora_r") == {"name": "lora_r", "value": 64, "source": "you", "why": None}
    assert any(
        w.startswith("lora_r 64 is large for hidden size") and "Fix: lora_r=" in w for w in plan["warnings"]
    )


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    row = {
        "input": {"messages": [{"role": "user", "content": "Say hello."}]},
        "preferred_output": [{"role": "assistant", "content": "Hello!"}],
        "non_preferred_output": [{"role": "assistant", "content": "No."}],
    }
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for _ in range(12)) + "\n")
    return path


async def test_dpo_defaults_are_a_practitioners_and_stated_with_their_source(
    byom_settings: Settings, faults: FaultTransport, pairs_file: Path, tiny_model: Path
) -> None:
    # Before #16 DPO got the SFT LoRA default 1e-3, and neither beta nor warmup was shown.
    args = {
        "training_file": str(pairs_file),
        "from_hf_model": str(tiny_model),
        "method": "dpo",
        "dry_run": True,
    }
    async with client(byom_settings, faults, Asked()) as c:
        plan = (await call_ok(c, "create_finetune", args))["plan"]
        aggressive = (await call_ok(c, "create_finetune", {**args, "learning_rate": 1e-3}))["plan"]
    assert setting(plan, "learning_rate")["value"] == 5e-6 and "DPO" in setting(plan, "learning_rate")["why"]
    assert setting(plan, "dpo_beta") == {
        "name": "dpo_beta",
        "value": 0.1,
        "source": "default",
        "why": "default: TRL's DPOConfig",
    }
    assert "warmup_ratio 0 (default)" in plan["summary"]
    assert plan["request"]["training_method"]["dpo_beta"] == 0.1
    # A pair is one sequence: DPO never packs.
    assert plan["schedule"]["packing"] is False and plan["schedule"]["sequences"] == 12
    assert any("aggressive for DPO" in w for w in aggressive["warnings"])


async def test_after_launch_the_result_says_what_started_and_the_next_call_never_the_question(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    settings = byom_settings.model_copy(update={"auto_confirm": True})
    async with client(settings, faults, Asked()) as c:
        result = await c.call_tool("create_finetune", tool_args)
    text = text_of(result)
    out = result.structured_content
    assert out is not None and out["status"] == "created"
    assert text.startswith(f"Started: job {out['job_id']}") and "Next: Follow it: job_status(" in text
    assert "?" not in text.split("What was started")[1]  # before #16 it ended "Start this fine-tune?"
    # The files as sent: uploaded, with their ids (before #16 "uploaded": false after the upload).
    assert out["plan"]["training_file"]["uploaded"] is True
    assert out["plan"]["training_file"]["file_id"] in engine_files(queued_state)
    assert "uploaded only once you confirm" not in text


async def test_a_continued_job_reads_as_a_continuation_from_its_parent(
    byom_settings: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    # Before #16: "Fine-tune ft-… on ft-… (base)", priced by "Together's estimate for base ft-…".
    settings = byom_settings.model_copy(update={"auto_confirm": True})
    async with client(settings, faults, Asked()) as c:
        parent = (await call_ok(c, "create_finetune", tool_args))["job_id"]
        cont = {"training_file": tool_args["training_file"], "from_checkpoint": f"{parent}:2", "n_epochs": 2}
        plan = (await call_ok(c, "create_finetune", {**cont, "dry_run": True}))["plan"]
    assert plan["summary"].startswith(f"Continue {parent} from step 2 (that checkpoint), 2 more epoch(s)")
    assert (
        plan["continues"]["job_id"] == parent
        and plan["continues"]["from_hf_model"] == tool_args["from_hf_model"]
    )
    # The parent's tokenizer counts the data: the steps are known for a continuation too.
    assert plan["schedule"] is not None and plan["schedule"]["n_epochs"] == 2
    assert engine_jobs(queued_state) == [parent]


def test_list_jobs_lines_carry_each_jobs_cost_and_lineage() -> None:
    # The job as Together's API answers it (total_price in nano-dollars, from_checkpoint as sent).
    job = FinetuneResponse.model_validate(
        {
            "id": "ft-child",
            "status": "completed",
            "total_price": 4_250_000_000,
            "from_checkpoint": "ft-parent:12",
        }
    )
    line = job_line(job)
    assert line.cost_usd == 4.25 and line.continued_from == "ft-parent:12"
    from byom.tools.jobs import _list_line

    assert _list_line(line, costs_money=True).endswith("continued from ft-parent:12, $4.25")
    # On the local engine a job's line says it cost nothing, rather than saying nothing about cost.
    assert _list_line(line, costs_money=False).endswith(", free (trained on this machine)")


# ---- deploy_endpoint ---------------------------------------------------------------------------------


async def test_a_deploy_dry_run_creates_no_endpoint_and_states_hardware_hourly_cost_and_auto_stop(
    byom_settings: Settings,
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
    engine: tuple[httpx2.AsyncClient, EngineState],
    tiny_model: Path,
) -> None:
    faults = FaultTransport(engine_transport[0])
    model_id = register_tiny(engine[1], tiny_model).id
    asked = Asked()
    args = {"model": model_id, "endpoint_name": "dry", "min_replicas": 0, "max_replicas": 2, "dry_run": True}
    async with client(byom_settings, faults, asked) as c:
        out = await call_ok(c, "deploy_endpoint", args)
    assert out["status"] == "dry_run" and out["endpoint"] is None and out["confirm_token"] is None
    assert asked.forms == []
    assert (await engine[0].get(f"{P}/endpoints")).json()["data"] == []
    assert faults.count("POST", f"{P}/endpoints") == 0
    plan = out["plan"]
    assert plan["config"]["instance_type"] and plan["usd_per_hour_min"] == 0.0 and plan["usd_per_hour"] == 0.0
    assert "Auto-stop after 60 idle minutes." in plan["summary"] and "Deploy it?" not in plan["summary"]
    assert spends(byom_settings) == []


# ---- on Together (the engine standing in; only the estimate's price is Together's to say) ------------


async def test_a_dry_run_on_together_prices_from_the_packaged_rates_and_shows_the_days_spend(
    paid: Settings, faults: FaultTransport, queued_state: EngineState, tool_args: dict[str, Any]
) -> None:
    asked = Asked()
    async with client(paid, faults, asked) as c:
        out = await call_ok(c, "create_finetune", {**tool_args, "dry_run": True})
    plan = out["plan"]
    assert out["status"] == "dry_run" and asked.forms == []
    assert engine_jobs(queued_state) == [] and engine_files(queued_state) == []
    nothing_sent(faults)
    assert plan["price"]["usd"] == 4.0 and plan["price"]["source"] == "offline"
    assert plan["model_source"] == "recommended"  # on Together the base is the rule's pick, as before
    # Before #16, with no limit set, "spending" was [] and the user's budget was the assistant's arithmetic.
    (spent,) = plan["spending"]
    assert spent == (
        "Spent: $0.00 confirmed by this server in the last 24 h; this plan adds $4.00: $4.00 in all. No spending "
        "limit is set (BYOM_MAX_USD, BYOM_MAX_USD_PER_DAY in the server's config set one)."
    )
    assert plan["duration"]["basis"].startswith("Time: Together publishes no throughput")


async def test_a_continued_job_on_together_is_priced_at_its_parents_base(
    paid: Settings, faults: FaultTransport, tool_args: dict[str, Any]
) -> None:
    faults.inject("POST", ESTIMATE, rewrite_json(lambda b: {**b, "estimated_total_price": 4.0}), forever=True)
    async with client(paid.model_copy(update={"auto_confirm": True}), faults, Asked()) as c:
        first = await call_ok(c, "create_finetune", tool_args)
        cont = {
            "training_file": tool_args["training_file"],
            "from_checkpoint": first["job_id"],
            "n_epochs": 2,
        }
        plan = (await call_ok(c, "create_finetune", {**cont, "dry_run": True}))["plan"]
    base = first["plan"]["model"]
    assert plan["continues"]["base"] == base
    assert plan["summary"].startswith(f"Continue {first['job_id']} from ")
    assert "2 more epoch(s)" in plan["summary"] and f"base {first['job_id']}" not in plan["summary"]
    # The file is on the backend now (the parent uploaded it): Together's estimate prices it.
    assert plan["price"]["usd"] == 4.0 and "$4.00 confirmed by this server" in plan["spending"][0]


async def test_a_bigger_files_plan_is_counted_from_the_same_sample_as_the_check(
    byom_settings: Settings,
    faults: FaultTransport,
    tool_args: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plan no longer gives up on a file over 16 MiB ("Steps: not known"): it counts 1 row in every k, as
    check_training_data does, and says so."""
    monkeypatch.setattr("byom.data._tokens.STATS_ROWS", 5)  # the 16-row file: 1 in every 4
    async with client(byom_settings, faults, Asked()) as c:
        check = await call_ok(
            c,
            "check_training_data",
            {"path": tool_args["training_file"], "model": tool_args["from_hf_model"]},
        )
        plan = (await call_ok(c, "create_finetune", {**tool_args, "dry_run": True}))["plan"]
    tokens = plan["price"]["tokens"]
    assert tokens["sampled_every"] == check["token_stats"]["sampled_every"] == 4
    assert tokens["per_epoch"] == check["tokens_per_epoch"]
    assert "(estimated from 1 row in every 4)" in plan["summary"]
