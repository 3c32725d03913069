"""HubInspector against the fake Hub: every verdict path, request budget, cache, revisions."""

from __future__ import annotations

import pytest

from byom.config import Settings
from byom.hub import HubInspector, InspectReport
from support.fakehub import FakeHub, make_inspector
from support.hubrepos import GPT2_PARAMS, MIXTRAL_PARAMS, OLMO_PARAMS, SMOL_PARAMS, standard_repos

INSPECTABLE = [
    r.repo_id
    for r in standard_repos()
    if r.repo_id not in ("meta-llama/Llama-3.2-1B", "org/private-model", "org/gguf-only")
]


def _status(report: InspectReport, check: str) -> str:
    matches = [f.status for f in report.findings if f.check == check]
    assert matches, f"no {check} finding in {[f.check for f in report.findings]}"
    return matches[0]


def _finding(report: InspectReport, check: str):  # type: ignore[no-untyped-def]
    return next(f for f in report.findings if f.check == check)


def test_llama_family_model_is_compatible(inspector: HubInspector, hub: FakeHub) -> None:
    report = inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct")
    repo = hub.repos["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert report.verdict == "compatible"
    assert report.commit_sha == repo.sha
    assert (report.source, report.model_type, report.family) == ("hub", "llama", "llama")
    assert report.architectures == ["LlamaForCausalLM"]
    assert (
        report.is_causal_lm and not report.needs_remote_code and not report.is_adapter and not report.is_moe
    )
    assert (report.param_count, report.param_count_source) == (SMOL_PARAMS, "safetensors")
    assert report.dtypes == {"BF16": SMOL_PARAMS}
    assert report.weight_format == "safetensors"
    assert report.max_context == 8192 and report.sliding_window is None and report.rope_scaling is None
    assert report.vocab_size == 49152
    assert report.has_chat_template
    assert report.license == "apache-2.0"
    assert (report.transformers_version, report.transformers_ceiling) == ("4.42.3", "5.10")
    assert report.gated is False and report.private is False
    assert report.memory is not None
    assert report.memory.full_finetune_gb == round(SMOL_PARAMS * 16 / 1e9, 2)
    assert report.memory.lora_gb == round(SMOL_PARAMS * 2 / 1e9, 2)
    assert report.memory.inference_gb == round(SMOL_PARAMS * 2.4 / 1e9, 2)
    assert "accelerate" in report.memory.source
    assert report.model_card_excerpt is not None and len(report.model_card_excerpt) <= 500
    assert report.model_card_excerpt.startswith("# SmolLM2")  # front matter dropped
    for check in ("causal_lm", "remote_code", "size", "weights_format", "transformers_version", "access"):
        assert _status(report, check) == "pass"


def test_sharded_without_hub_summary_uses_formula(inspector: HubInspector, hub: FakeHub) -> None:
    report = inspector.inspect("org/sharded-llama")
    assert report.param_count_source == "config_formula"
    assert report.param_count == SMOL_PARAMS + 49152 * 576  # untied lm_head
    assert report.weight_format == "safetensors"
    assert len(hub.requests) <= 4
    assert not any(r.url.path.endswith(".safetensors") for r in hub.requests)


def test_gpt2_lm_head_model_is_causal(inspector: HubInspector) -> None:
    report = inspector.inspect("openai-community/gpt2")
    assert report.is_causal_lm and report.architectures == ["GPT2LMHeadModel"]
    assert (report.param_count, report.param_count_source) == (GPT2_PARAMS, "config_formula")
    assert report.max_context == 1024  # n_positions alias
    assert report.weight_format == "both" and _status(report, "weights_format") == "pass"
    assert not report.has_chat_template and _status(report, "chat_template") == "warn"
    assert report.verdict == "compatible_with_warnings"
    assert report.license == "mit"


def test_safetensors_header_read_when_no_summary_and_no_formula(
    inspector: HubInspector, hub: FakeHub
) -> None:
    report = inspector.inspect("org/olmo-tiny")
    assert (report.param_count, report.param_count_source) == (OLMO_PARAMS, "safetensors")
    assert report.dtypes == {"BF16": OLMO_PARAMS}
    assert report.family == "olmo"
    assert hub.weight_bytes == 0
    assert len(hub.requests) <= 4
    assert any(r.headers.get("range") for r in hub.requests)


def test_remote_code_model_is_incompatible(inspector: HubInspector) -> None:
    report = inspector.inspect("org/custom-arch")
    assert report.needs_remote_code and report.verdict == "incompatible"
    finding = _finding(report, "remote_code")
    assert (
        finding.status == "fail"
        and "fancy_lm" in finding.evidence
        and "modeling_fancy.py" in finding.evidence
    )
    assert finding.fix and "trust_remote_code" in finding.fix
    assert report.is_causal_lm  # auto_map registers AutoModelForCausalLM


def test_custom_tokenizer_code_is_flagged(inspector: HubInspector) -> None:
    report = inspector.inspect("org/custom-tokenizer")
    assert report.needs_remote_code and _status(report, "remote_code") == "fail"
    assert "tokenizer" in _finding(report, "remote_code").evidence


def test_encoder_is_not_causal(inspector: HubInspector) -> None:
    report = inspector.inspect("google-bert/bert-base-uncased")
    assert not report.is_causal_lm and report.verdict == "incompatible"
    finding = _finding(report, "causal_lm")
    assert finding.status == "fail" and "BertForMaskedLM" in finding.evidence and finding.fix


def test_bin_only_weights_fail(inspector: HubInspector) -> None:
    report = inspector.inspect("org/bin-only-llama")
    assert report.weight_format == "bin_only" and report.verdict == "incompatible"
    finding = _finding(report, "weights_format")
    assert finding.status == "fail" and "safe_serialization=True" in (finding.fix or "")


def test_quantized_repo_warns_and_counts_logical_params(inspector: HubInspector) -> None:
    report = inspector.inspect("org/llama-gptq")
    assert report.quantization == "gptq-4bit"
    assert _status(report, "quantization") == "warn"
    # The Hub summary counts packed I32 elements; the formula gives the logical size.
    assert (report.param_count, report.param_count_source) == (SMOL_PARAMS, "config_formula")
    assert report.dtypes == {"I32": 20_000_000, "F16": 30_000_000}
    assert report.verdict == "compatible_with_warnings"


def test_lora_adapter_reads_base_config(inspector: HubInspector, hub: FakeHub) -> None:
    report = inspector.inspect("org/smol-lora")
    assert report.is_adapter and report.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert (report.peft_type, report.lora_rank, report.lora_alpha) == ("LORA", 16, 32.0)
    assert report.target_modules == ["q_proj", "v_proj"]
    assert report.adapter_param_count == 921_600
    assert (report.param_count, report.param_count_source) == (SMOL_PARAMS, "config_formula")
    assert report.family == "llama" and report.is_causal_lm
    assert "merges" in _finding(report, "adapter").evidence
    assert report.weight_format == "safetensors"
    assert len(hub.requests) <= 4
    assert any("SmolLM2-135M-Instruct/resolve/main/config.json" in str(r.url) for r in hub.requests)
    assert report.verdict == "compatible"


def test_adapter_with_unreadable_base_still_reports(inspector: HubInspector, hub: FakeHub) -> None:
    repo = hub.repos["org/smol-lora"]
    repo.files["adapter_config.json"] = repo.files["adapter_config.json"].replace(  # type: ignore[union-attr]
        b"HuggingFaceTB/SmolLM2-135M-Instruct", b"org/does-not-exist"
    )
    report = inspector.inspect("org/smol-lora")
    assert report.is_adapter and report.param_count is None
    assert _status(report, "size") == "warn" and "could not be read" in _finding(report, "size").evidence
    assert report.is_causal_lm  # from task_type CAUSAL_LM
    assert report.verdict == "compatible_with_warnings"


def test_moe_model(inspector: HubInspector) -> None:
    report = inspector.inspect("mistralai/Mixtral-8x7B-v0.1")
    assert report.is_moe and (report.num_experts, report.experts_per_token) == (8, 2)
    assert report.param_count == MIXTRAL_PARAMS
    assert report.active_params == MIXTRAL_PARAMS - 32 * 6 * 3 * 4096 * 14336
    assert report.family == "mixtral" and _status(report, "moe") == "info"
    assert report.sliding_window is None


def test_over_100b_params_fails(inspector: HubInspector) -> None:
    report = inspector.inspect("org/huge-model")
    assert report.verdict == "incompatible"
    assert _status(report, "size") == "fail" and "100B" in _finding(report, "size").evidence


def test_transformers_ceiling_is_configurable(settings: Settings, hub: FakeHub) -> None:
    newer = make_inspector(settings).inspect("org/new-transformers")
    assert newer.transformers_ceiling == "5.10" and _status(newer, "transformers_version") == "warn"
    old = make_inspector(settings.model_copy(update={"transformers_ceiling": "4.55"})).inspect(
        "org/new-transformers"
    )
    assert old.transformers_ceiling == "4.55" and _status(old, "transformers_version") == "fail"
    assert old.verdict == "incompatible" and "4.55" in (_finding(old, "transformers_version").fix or "")
    smol = make_inspector(settings.model_copy(update={"transformers_ceiling": "4.55"})).inspect(
        "HuggingFaceTB/SmolLM2-135M-Instruct"
    )
    assert _status(smol, "transformers_version") == "pass"


def test_gated_repo_with_token_passes_access(authed_inspector: HubInspector) -> None:
    report = authed_inspector.inspect("meta-llama/Llama-3.2-1B")
    assert report.gated == "manual"
    assert _status(report, "access") == "pass" and "hf_api_token" in (_finding(report, "access").fix or "")
    assert report.max_context == 131072
    assert report.rope_scaling == {
        "rope_type": "llama3",
        "factor": 32.0,
        "original_max_position_embeddings": 8192,
    }


def test_private_repo_with_token(authed_inspector: HubInspector, hub: FakeHub) -> None:
    report = authed_inspector.inspect("org/private-model")
    assert report.private is True and report.verdict == "compatible"
    assert all(r.headers.get("authorization") for r in hub.requests)


@pytest.mark.parametrize("repo_id", INSPECTABLE)
def test_cold_inspect_stays_within_four_requests_and_no_weight_bytes(
    inspector: HubInspector, hub: FakeHub, repo_id: str
) -> None:
    inspector.inspect(repo_id)
    assert 1 <= len(hub.requests) <= 4
    assert hub.weight_bytes == 0
    assert all(r.method == "GET" for r in hub.requests)  # no HEAD round trips


def test_warm_inspect_makes_no_requests(inspector: HubInspector, hub: FakeHub) -> None:
    first = inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct")
    hub.reset_counts()
    again = inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert len(hub.requests) == 0 and again == first


def test_cache_expires_after_ttl(settings: Settings, hub: FakeHub) -> None:
    now = [1000.0]
    inspector = make_inspector(settings.model_copy(update={"hub_cache_ttl": 60.0}), clock=lambda: now[0])
    inspector.inspect("openai-community/gpt2")
    hub.reset_counts()
    now[0] += 59
    inspector.inspect("openai-community/gpt2")
    assert len(hub.requests) == 0
    now[0] += 2
    inspector.inspect("openai-community/gpt2")
    assert len(hub.requests) >= 1
    hub.reset_counts()
    inspector.clear_cache()
    inspector.inspect("openai-community/gpt2")
    assert len(hub.requests) >= 1


def test_revision_is_pinned_and_files_read_at_the_commit(inspector: HubInspector, hub: FakeHub) -> None:
    report = inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct@v1.0")
    assert report.revision == "v1.0" and report.commit_sha == "1" * 40
    assert "/revision/v1.0" in str(hub.requests[0].url)
    assert all(f"/resolve/{'1' * 40}/" in str(r.url) for r in hub.requests[1:])


def test_explicit_revision_wins_and_says_so(inspector: HubInspector) -> None:
    repo = "HuggingFaceTB/SmolLM2-135M-Instruct"
    report = inspector.inspect(f"{repo}@main", revision="v1.0")
    assert report.revision == "v1.0"
    note = _finding(report, "revision")
    assert note.status == "info" and "'v1.0'" in note.evidence and "'main'" in note.evidence
    same = inspector.inspect(f"{repo}@v1.0", revision="v1.0")
    assert not [f for f in same.findings if f.check == "revision"]


def test_hub_info_config_subset_is_not_trusted_for_context(inspector: HubInspector, hub: FakeHub) -> None:
    # model_info().config lacks max_position_embeddings: the report must come from config.json.
    report = inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert any(str(r.url).endswith("/config.json") for r in hub.requests)
    assert report.max_context == 8192


@pytest.mark.parametrize(
    ("ref", "revision", "expected"),
    [
        ("org/name", None, ("org/name", None, None)),
        ("org/name@dev", None, ("org/name", "dev", None)),
        ("https://huggingface.co/org/name", None, ("org/name", None, None)),
        ("https://huggingface.co/org/name/tree/v2/", None, ("org/name", "v2", None)),
        (
            "org/name@dev",
            "main",
            ("org/name", "main", "revision argument 'main' overrides 'dev' given in the model id"),
        ),
    ],
)
def test_parse_model_ref(
    ref: str, revision: str | None, expected: tuple[str, str | None, str | None]
) -> None:
    from byom.hub import parse_model_ref

    assert parse_model_ref(ref, revision) == expected


def test_hub_url_is_accepted(inspector: HubInspector) -> None:
    report = inspector.inspect("https://huggingface.co/openai-community/gpt2")
    assert report.model == "openai-community/gpt2"


def test_sharded_unknown_family_says_what_was_skipped(inspector: HubInspector, hub: FakeHub) -> None:
    from support.fakehub import FakeRepo, json_bytes
    from support.hubrepos import OLMO_CONFIG, OLMO_WEIGHTS

    hub.add(
        FakeRepo(
            "org/olmo-sharded",
            {
                "config.json": json_bytes(OLMO_CONFIG),
                "model-00001-of-00002.safetensors": OLMO_WEIGHTS,
                "model-00002-of-00002.safetensors": OLMO_WEIGHTS,
                "tokenizer.json": b"{}",
            },
        )
    )
    report = inspector.inspect("org/olmo-sharded")
    assert report.param_count is None and report.verdict == "compatible_with_warnings"
    assert "2 safetensors shards" in next(f for f in report.findings if f.check == "not_checked").evidence
    assert len(hub.requests) <= 4 and hub.weight_bytes == 0


def test_stored_login_is_used_when_settings_have_no_token(
    settings: Settings, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.fakehub import TOKEN

    monkeypatch.setenv("HF_TOKEN", TOKEN)  # one of the places huggingface_hub.get_token() looks
    report = make_inspector(settings).inspect("org/private-model")
    assert report.private is True


def test_failed_oidc_login_falls_back_to_anonymous(
    settings: Settings, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_OIDC_RESOURCE", "https://huggingface.co")
    monkeypatch.delenv("HF_OIDC_ID_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
    report = make_inspector(settings).inspect("openai-community/gpt2")
    assert report.verdict == "compatible_with_warnings"
