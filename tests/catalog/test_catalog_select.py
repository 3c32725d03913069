"""recommend(): the BYOM docs' rule for choosing a base model, on the packaged table."""

from __future__ import annotations

import pytest

from byom.catalog import (
    LOCAL_TEMPLATE,
    Catalog,
    CatalogBase,
    CustomModelFacts,
    facts_from_report,
    load_packaged_catalog,
    recommend,
    recommend_for_report,
    render_recommendation,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_packaged_catalog()


SMOLLM2_135M = CustomModelFacts(
    model="HuggingFaceTB/SmolLM2-135M-Instruct",
    family="llama",
    model_type="llama",
    param_count=134_515_008,
    max_context=8192,
    is_moe=False,
)


def test_docs_worked_example_smollm2_gets_llama2_not_llama32(catalog: Catalog) -> None:
    rec = recommend(SMOLLM2_135M, catalog)
    # Docs FAQ: Llama-3.2-1B is closest in size, but its 131k context exceeds SmolLM2's 8k.
    assert rec.base_model == "togethercomputer/llama-2-7b-chat"
    assert rec.pick is not None and rec.pick.context == 4096 and rec.pick.context_fits is True
    assert rec.pick.reasons[0] == "same architecture family (llama)"
    assert "meta-llama/Llama-3.2-1B-Instruct" not in [a.base_model for a in rec.alternatives]
    assert len(rec.alternatives) <= 4
    assert [a.rank for a in rec.alternatives] == list(range(2, 2 + len(rec.alternatives)))
    assert rec.catalog_origin == "packaged" and "FAQ" in rec.rule
    # Known limits rank first (fits, then violations), then the unknown-context ones.
    fits = [c.context_fits for c in [rec.pick, *rec.alternatives]]
    assert fits == sorted(fits, key=lambda f: {True: 0, False: 1, None: 2}[f])


def test_smollm2_17b_docs_quick_start(catalog: Catalog) -> None:
    facts = SMOLLM2_135M.model_copy(
        update={"model": "HuggingFaceTB/SmolLM2-1.7B-Instruct", "param_count": 1_711_376_384}
    )
    assert recommend(facts, catalog).base_model == "togethercomputer/llama-2-7b-chat"


def test_family_decided_from_model_type(catalog: Catalog) -> None:
    # CodeLlama: model_type "llama" even if a caller labels the family differently.
    facts = CustomModelFacts(
        model="codellama/CodeLlama-7b-Instruct-hf",
        family="codellama",
        model_type="llama",
        param_count=6_738_546_688,
        max_context=16384,
    )
    rec = recommend(facts, catalog)
    assert rec.family == "llama" and rec.pick is not None and rec.pick.family == "llama"
    assert rec.base_model == "codellama/CodeLlama-7b-hf"  # same size, 16k ≤ 16k


def test_qwen25_7b_gets_a_qwen_base(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="Qwen/Qwen2.5-7B-Instruct", model_type="qwen2", param_count=7_615_616_512, max_context=32768
    )
    rec = recommend(facts, catalog)
    assert rec.base_model is not None and rec.base_model.startswith("Qwen/Qwen2.5-7B")
    assert rec.pick is not None and rec.pick.size_ratio == 1.0 and rec.pick.context_fits
    assert not rec.warnings


def test_mixtral_gets_mixtral(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="mistralai/Mixtral-8x22B-Instruct-v0.1",
        model_type="mixtral",
        param_count=140_620_634_112,
        max_context=65536,
        is_moe=True,
    )
    rec = recommend(facts, catalog)
    assert rec.base_model is not None and rec.base_model.startswith("mistralai/Mixtral-8x7B")
    # 141B is over BYOM's 100B cap: say so.
    assert any("at most 100B" in w for w in rec.warnings)


def test_gemma2_falls_back_to_gemma3_with_warnings(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="google/gemma-2-2b-it", model_type="gemma2", param_count=2_614_341_888, max_context=8192
    )
    rec = recommend(facts, catalog)
    assert rec.family == "gemma2" and rec.matched_family == "gemma3"
    assert rec.pick is not None and rec.pick.family == "gemma3"
    assert any("closest family, gemma3" in w for w in rec.warnings)
    # Issue #16: not the 16,384-context image+text gemma-3-12b-it. Every gemma3 base is longer than 8k, so
    # the context rule cannot hold; the text-only architecture like the custom model's comes first, then
    # the least violation among those (32,768), then the closest size, then the instruct variant.
    assert rec.base_model == "google/gemma-3-1b-it"
    assert (
        rec.pick.context_fits is False
        and "text-only architecture (gemma3_text) like yours" in rec.pick.reasons
    )
    twelve = next(a for a in catalog.bases if a.name == "google/gemma-3-12b-it")
    assert twelve.sft_context == 16384 and twelve.model_type == "gemma3"
    # Never silent: the broken clauses are listed, the warning names the least violation and what to set.
    assert rec.rule_breaks[0] == "different family: gemma3 for your gemma2"
    assert any("least violation" in b and "32768 exceeds your 8192" in b for b in rec.rule_breaks)
    assert any("the pick is the least violation, google/gemma-3-1b-it at 32768" in w for w in rec.warnings)
    assert "least violation of the context rule" in rec.explanation


def test_cross_family_pick_says_what_it_risks(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="google/gemma-2-2b-it", model_type="gemma2", param_count=2_614_341_888, max_context=8192
    )
    cross = next(w for w in recommend(facts, catalog).warnings if "closest family" in w)
    for risk in ("architecture (", "tokenizer (", "chat template ("):
        assert risk in cross
    # A same-family pick carries no such warning.
    assert not any("closest family" in w for w in recommend(SMOLLM2_135M, catalog).warnings)


def test_an_image_text_model_keeps_an_image_text_template(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="org/gemma-3-4b-tune", model_type="gemma3", param_count=4_300_000_000, max_context=131072
    )
    rec = recommend(facts, catalog)
    assert rec.base_model is not None and rec.base_model.startswith("google/gemma-3-4b")
    assert rec.rule_breaks == []


def test_known_limits_beat_unknown_limits_and_the_least_violation_is_said(catalog: Catalog) -> None:
    # Issue #16: a 512-context Llama got DeepSeek-R1-Distill-Llama-8B (limits not on record) over
    # togethercomputer/llama-2-7b-chat (4,096, known): the rule's "if every base is larger, the smallest".
    facts = CustomModelFacts(
        model="org/llama-512", model_type="llama", param_count=8_000_000_000, max_context=512
    )
    rec = recommend(facts, catalog)
    assert rec.base_model == "togethercomputer/llama-2-7b-chat"
    assert rec.pick is not None and rec.pick.context == 4096 and rec.pick.context_on_record
    assert rec.rule_breaks == [
        "SFT context 4096 exceeds your 512: no llama base fits, this is the least violation"
    ]
    warning = next(w for w in rec.warnings if "least violation" in w)
    assert "Keep max_seq_length ≤ 512" in warning
    assert "2 llama base(s) whose context is not on record (the packaged list dated" in warning
    # Limits on record rank first (the violations, shortest context first), then the unknown.
    assert [a.context_fits for a in rec.alternatives][-1] is None or all(
        a.context_on_record for a in rec.alternatives
    )
    assert [a.context for a in rec.alternatives if a.context_on_record] == sorted(
        a.context for a in rec.alternatives if a.context_on_record
    )


def test_no_advice_to_ask_an_endpoint_no_tool_calls(catalog: Catalog) -> None:
    only_unknown = Catalog(
        source="t",
        retrieved="2026-11-28",
        bases=[CatalogBase(name="a/unknown-ctx", family="llama", param_count=135_000_000)],
    )
    for rec in (
        recommend(SMOLLM2_135M, only_unknown),
        recommend(SMOLLM2_135M, catalog, training_type="full"),
        recommend(SMOLLM2_135M, only_unknown, training_type="full"),
    ):
        text = render_recommendation(rec)
        assert "limits endpoint" not in text and "GET /v1" not in text
        # Offline: the limits are the packaged, dated list, and the way to live ones is said.
        assert "Limits: the packaged list dated 2026-11-28" in text
        assert "recommend_base reads Together's live limits itself" in text
    rec = recommend(SMOLLM2_135M, only_unknown)
    assert rec.rule_breaks == ["SFT context not on record: the context rule is unchecked"]
    live = only_unknown.model_copy(update={"origin": "live", "retrieved": "2026-12-06T11:00:00+00:00"})
    text = render_recommendation(recommend(SMOLLM2_135M, live))
    assert "Limits: Together's live limits (fetched 2026-12-06T11:00:00+00:00)" in text
    assert "TOGETHER_API_KEY" not in text


@pytest.mark.parametrize(
    ("model", "model_type", "params", "context"),
    [
        ("Qwen/Qwen3-8B", "qwen3", 8_190_735_360, 40960),
        ("meta-llama/Llama-3.2-1B-Instruct", "llama", 1_235_814_400, 131072),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral", 46_702_792_704, 32768),
    ],
)
def test_a_together_base_is_fine_tuned_directly(
    catalog: Catalog, model: str, model_type: str, params: int, context: int
) -> None:
    facts = CustomModelFacts(model=model, model_type=model_type, param_count=params, max_context=context)
    rec = recommend(facts, catalog)
    assert rec.direct and rec.base_model == model and rec.alternatives == []
    assert rec.next_step == f'create_finetune(model="{model}", training_file="<your .jsonl>")'
    text = render_recommendation(rec)
    assert "fine-tune it directly, no BYOM needed" in text and rec.next_step in text
    # A pinned revision is not Together's copy: that stays BYOM.
    pinned = recommend(facts.model_copy(update={"revision": "abc123"}), catalog)
    assert not pinned.direct and 'hf_model_revision="abc123"' in pinned.next_step


def test_local_engine_trains_the_model_itself(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="google/gemma-2-2b-it", model_type="gemma2", param_count=2_614_341_888, max_context=8192
    )
    rec = recommend(facts, catalog, local_engine=True)
    assert rec.backend == "local" and rec.alternatives == [] and rec.rule_breaks == []
    assert rec.explanation.startswith(
        "The local engine trains google/gemma-2-2b-it itself with its own template"
    )
    assert "max_seq_length up to your model's context (8192), batch size 1–8" in rec.explanation
    # Every limit a create_finetune call can run into is stated before it does (trial D met n_epochs ≤ 20 as an error).
    assert "n_epochs ≤ 20, learning rate 1e-08–0.01" in rec.explanation
    assert (
        rec.next_step
        == 'create_finetune(from_hf_model="google/gemma-2-2b-it", training_file="<your .jsonl>")'
    )
    # Together's template warnings do not apply to a model the engine trains itself.
    assert not any("closest family" in w or "least violation" in w for w in rec.warnings)
    text = render_recommendation(rec)
    assert "Alternatives" not in text and "Rule:" not in text and "together=true" in text
    # The template create_finetune takes on the local engine when model= is omitted; no Together base's limits.
    assert rec.base_model == LOCAL_TEMPLATE and "borrow" not in text and "llama-2-7b-chat" not in text
    # A Together base itself: the same direct call on both backends.
    qwen = CustomModelFacts(model="Qwen/Qwen3-8B", model_type="qwen3", max_context=40960)
    local_qwen = recommend(qwen, catalog, local_engine=True)
    assert local_qwen.direct and local_qwen.backend == "local"
    assert local_qwen.next_step == recommend(qwen, catalog).next_step


def test_family_with_no_template(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="microsoft/phi-4", model_type="phi3", param_count=14_659_507_200, max_context=16384
    )
    rec = recommend(facts, catalog)
    assert rec.base_model is None and rec.pick is None and rec.alternatives == []
    assert any("No template" in w and "llama" in w and "qwen2" in w for w in rec.warnings)
    text = render_recommendation(rec)
    assert "No base model recommended" in text and "No template" in text


def test_unknown_architecture(catalog: Catalog) -> None:
    rec = recommend(CustomModelFacts(model="x/y"), catalog)
    assert rec.base_model is None and any("unknown" in w for w in rec.warnings)


def test_full_training_prefers_full_capable_base(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="org/llama-70b-tune", model_type="llama", param_count=70_553_706_496, max_context=131072
    )
    lora = recommend(facts, catalog)
    full = recommend(facts, catalog, training_type="full")
    assert full.pick is not None and full.pick.full_supported is True
    assert full.base_model in {
        "meta-llama/Llama-3.3-70B-Instruct-Reference",
        "meta-llama/Meta-Llama-3.1-70B-Reference",
        "meta-llama/Meta-Llama-3.1-70B-Instruct-Reference",
    }
    assert any("full fine-tuning supported (batch 32–32)" in r for r in full.pick.reasons)
    assert lora.pick is not None
    # A small llama model: no confirmed full-FT base near its size, so the warning says to check limits.
    small = recommend(SMOLLM2_135M, catalog, training_type="full")
    assert small.pick is not None and small.pick.full_supported is not False


def test_full_training_unsupported_family_warns(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="org/scout-tune",
        model_type="llama4",
        param_count=109_000_000_000,
        max_context=262144,
        is_moe=True,
    )
    rec = recommend(facts, catalog, training_type="full")
    assert rec.pick is not None and rec.pick.family == "llama4"
    assert any("No llama4 base supports full fine-tuning" in w for w in rec.warnings)


def test_dpo_uses_dpo_context(catalog: Catalog) -> None:
    facts = CustomModelFacts(
        model="org/llama-70b-12k", model_type="llama", param_count=70_553_706_496, max_context=12288
    )
    sft = recommend(facts, catalog)
    dpo = recommend(facts, catalog, method="dpo")
    # SFT contexts of the 70B bases (24576) exceed 12288; their DPO contexts (8192/12288) fit.
    assert sft.pick is not None and "70B" not in sft.pick.base_model
    assert dpo.pick is not None and "70B" in dpo.pick.base_model and dpo.pick.context_fits
    assert dpo.pick.context in (8192, 12288)
    assert any(r.startswith("DPO context") for r in dpo.pick.reasons)


def test_requested_max_seq_length(catalog: Catalog) -> None:
    # 8192 requested: prefer a base that allows it (Llama-3-8B, 8k) over llama-2 (4k).
    rec = recommend(SMOLLM2_135M, catalog, max_seq_length=8192)
    assert rec.pick is not None and rec.pick.context == 8192
    assert rec.base_model is not None and rec.base_model.startswith("meta-llama/Meta-Llama-3-8B")
    # 16384 requested: nothing that fits SmolLM2's 8k allows it; warn on both limits.
    too_long = recommend(SMOLLM2_135M, catalog, max_seq_length=16384)
    assert too_long.pick is not None and too_long.pick.context_fits
    assert any("exceeds" in w and "limit of" in w for w in too_long.warnings)
    assert any("exceeds your model's max context 8192" in w for w in too_long.warnings)


def test_unknown_custom_context_and_size(catalog: Catalog) -> None:
    rec = recommend(CustomModelFacts(model="x/llama", model_type="llama"), catalog)
    assert rec.pick is not None and rec.pick.context_fits is None and rec.pick.size_ratio is None
    assert any("max context" in w for w in rec.warnings) and any("parameter count" in w for w in rec.warnings)


def test_unknown_base_context_ranks_below_known_fit() -> None:
    catalog = Catalog(
        source="test",
        retrieved="2026-11-28",
        bases=[
            CatalogBase(name="a/unknown-ctx", family="llama", param_count=135_000_000, sft_context=None),
            CatalogBase(name="b/known-ctx", family="llama", param_count=7_000_000_000, sft_context=4096),
        ],
    )
    rec = recommend(SMOLLM2_135M, catalog)
    assert rec.base_model == "b/known-ctx"
    assert rec.alternatives[0].base_model == "a/unknown-ctx" and rec.alternatives[0].context_fits is None
    assert any("context unknown" in r for r in rec.alternatives[0].reasons)
    only_unknown = Catalog(source="t", retrieved="t", bases=[catalog.bases[0]])
    rec2 = recommend(SMOLLM2_135M, only_unknown)
    assert rec2.base_model == "a/unknown-ctx" and any("not on record" in w for w in rec2.warnings)


def test_all_bases_larger_picks_smallest() -> None:
    catalog = Catalog(
        source="test",
        retrieved="2026-11-28",
        bases=[
            CatalogBase(name=f"x/{n}b", family="llama", param_count=n * 10**9, sft_context=4096)
            for n in (70, 8, 13)
        ],
    )
    assert recommend(SMOLLM2_135M, catalog).base_model == "x/8b"


def test_catalog_warnings_are_carried_and_text_is_short(catalog: Catalog) -> None:
    stale = catalog.model_copy(update={"warnings": ["Could not refresh the base-model list"]})
    rec = recommend(SMOLLM2_135M, stale)
    assert rec.warnings[0] == "Could not refresh the base-model list"
    text = render_recommendation(rec)
    assert len(text) < 6000
    assert "togethercomputer/llama-2-7b-chat" in text and "Could not refresh" in text
    assert rec.model_dump(mode="json")["base_model"] == "togethercomputer/llama-2-7b-chat"


def test_facts_from_a_hub_inspect_report(catalog: Catalog) -> None:
    from byom.hub import InspectReport

    report = InspectReport(
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        source="hub",
        verdict="compatible",
        findings=[],
        model_type="llama",
        family="llama",
        param_count=134_515_008,
        max_context=8192,
        transformers_ceiling="5.10",
    )
    facts = facts_from_report(report)
    assert facts == SMOLLM2_135M
    assert recommend(facts, catalog).base_model == "togethercomputer/llama-2-7b-chat"


def test_equally_close_prefers_the_vendor_base_over_a_community_fine_tune(catalog: Catalog) -> None:
    # A Mistral-7B chat tune with ChatML's two extra tokens has exactly OpenHermes-2p5's size (#13).
    facts = CustomModelFacts(
        model="org/mistral-7b-chatml-tune",
        model_type="mistral",
        param_count=7_241_748_480,
        max_context=32768,
        has_chat_template=True,
    )
    rec = recommend(facts, catalog)
    assert rec.base_model == "mistralai/Mistral-7B-Instruct-v0.2"
    assert rec.pick is not None and "official mistralai base" in rec.pick.reasons
    hermes = next(a for a in rec.alternatives if a.base_model == "teknium/OpenHermes-2p5-Mistral-7B")
    assert any(r.startswith("community fine-tune by teknium") for r in hermes.reasons)
    assert "teknium/OpenHermes-2p5-Mistral-7B: the vendor's own base" in rec.explanation
    assert rec.explanation in render_recommendation(rec)


def test_equally_close_matches_base_or_instruct_to_the_custom_model(catalog: Catalog) -> None:
    base_tune = CustomModelFacts(
        model="org/mistral-7b-continued-pretraining",
        model_type="mistral",
        param_count=7_241_732_096,
        max_context=32768,
    )
    rec = recommend(base_tune, catalog)
    assert rec.base_model == "mistralai/Mistral-7B-v0.1"
    assert "Preferred over mistralai/Mistral-7B-Instruct-v0.2: a base (pretrained) variant" in rec.explanation
    chat_tune = base_tune.model_copy(update={"model": "org/Mistral-7B-Instruct-tune"})
    assert recommend(chat_tune, catalog).base_model == "mistralai/Mistral-7B-Instruct-v0.2"

    llama31 = CustomModelFacts(
        model="org/llama-3.1-8b-domain", model_type="llama", param_count=8_030_261_248, max_context=131072
    )
    assert recommend(llama31, catalog).base_model == "meta-llama/Meta-Llama-3.1-8B-Reference"
    with_template = llama31.model_copy(update={"has_chat_template": True})
    rec = recommend(with_template, catalog)
    assert rec.base_model == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    assert rec.pick is not None and "instruct/chat variant like yours" in rec.pick.reasons
    assert "like your instruct/chat model" in rec.explanation


def test_docs_example_explanation(catalog: Catalog) -> None:
    rec = recommend(SMOLLM2_135M, catalog)
    assert rec.explanation.startswith("togethercomputer/llama-2-7b-chat was chosen: same architecture family")
    assert (
        "SFT context 4096 fits your 8192" in rec.explanation
        and "closest size (6.7B vs your 135M)" in rec.explanation
    )


def test_recommend_for_report_carries_the_chat_template(catalog: Catalog) -> None:
    from byom.hub import InspectReport

    report = InspectReport(
        model="org/llama-3.1-8b-domain",
        source="hub",
        verdict="compatible",
        findings=[],
        model_type="llama",
        family="llama",
        param_count=8_030_261_248,
        max_context=131072,
        has_chat_template=True,
        transformers_ceiling="5.10",
    )
    rec = recommend_for_report(report, catalog, method="dpo")
    assert rec.custom.has_chat_template is True and rec.method == "dpo"
    assert rec.base_model == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def test_size_wording_for_a_tiny_model(catalog: Catalog) -> None:
    tiny = CustomModelFacts(model="org/tiny-llama", model_type="llama", param_count=117_136, max_context=8192)
    rec = recommend(tiny, catalog)
    assert rec.pick is not None
    reasons = " ".join(rec.pick.reasons)
    assert "much larger than yours (6.7B vs 117K)" in reasons and "× yours" not in reasons
    assert "6.7B vs 117K" in " ".join(rec.warnings) and "0M" not in render_recommendation(rec)
    close = recommend(SMOLLM2_135M.model_copy(update={"param_count": 6_000_000_000}), catalog)
    assert close.pick is not None and "6.7B params, 1.1× yours" in close.pick.reasons
