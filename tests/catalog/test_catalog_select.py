"""recommend(): the BYOM docs' rule for choosing a base model, on the packaged table."""

from __future__ import annotations

import pytest

from byom.catalog import (
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
    # Every known-fit candidate ranks above every unknown-context one.
    fits = [c.context_fits for c in [rec.pick, *rec.alternatives]]
    assert fits == sorted(fits, key=lambda f: {True: 0, None: 1, False: 2}[f])


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
    # Every gemma3 base is longer than 8k: the shortest-context one is picked, with a warning.
    assert rec.pick.context == min(
        b.sft_context for b in catalog.bases if b.family == "gemma3" and b.sft_context
    )
    assert any("picked the shortest" in w for w in rec.warnings)
    assert rec.pick.context_fits is False


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
