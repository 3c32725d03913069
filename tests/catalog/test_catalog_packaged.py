"""The packaged base table: loads, validates, and renders Together-shaped payloads."""

from __future__ import annotations

import json
from importlib import resources

import pytest
from together.types import FinetuneModelLimits, SupportedModel

from byom.catalog import (
    Catalog,
    CustomModelFacts,
    base_limits,
    limits_payload,
    load_packaged_catalog,
    normalize_family,
    recommend,
    supported_model_payload,
)


def test_every_docs_row_is_present_and_expanded() -> None:
    catalog = load_packaged_catalog()
    assert catalog.origin == "packaged"
    assert catalog.retrieved and "fine-tuning-models" in catalog.source
    names = {b.name for b in catalog.bases}
    # "(-Instruct)" rows from together-api.md §9 are expanded into both ids.
    for name in (
        "meta-llama/Meta-Llama-3-8B",
        "meta-llama/Meta-Llama-3-8B-Instruct",
        "meta-llama/Llama-3.2-1B",
        "meta-llama/Llama-3.2-1B-Instruct",
        "mistralai/Mixtral-8x7B-v0.1",
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "google/gemma-3-270m-it",
        "openai/gpt-oss-20b",
    ):
        assert name in names
    assert len(names) == len(catalog.bases), "duplicate ids"


def test_docs_worked_example_figures() -> None:
    catalog = load_packaged_catalog()
    llama2 = catalog.get("togethercomputer/llama-2-7b-chat")
    assert llama2 is not None
    assert (llama2.family, llama2.param_count, llama2.param_count_exact) == ("llama", 6_738_415_616, True)
    assert llama2.sft_context == 4096
    small = catalog.get("META-LLAMA/llama-3.2-1b-instruct")  # case-insensitive
    assert small is not None and small.param_count == 1_235_814_400 and small.sft_context == 131072
    assert catalog.get("nope/nothing") is None


def test_families_are_normalized() -> None:
    catalog = load_packaged_catalog()
    assert catalog.get("codellama/CodeLlama-7b-hf").family == "llama"  # type: ignore[union-attr]
    assert catalog.get("Qwen/Qwen2.5-7B-Instruct").family == "qwen2"  # type: ignore[union-attr]
    assert {"llama", "qwen2", "qwen3", "qwen3_moe", "gemma3", "mistral", "mixtral", "gpt_oss"} <= set(
        catalog.families()
    )
    assert normalize_family("gemma3_text") == "gemma3"
    assert normalize_family("Deepseek_V3") == "deepseek"
    assert normalize_family(None) is None


def test_unknowns_are_null_and_full_training_tristate() -> None:
    catalog = load_packaged_catalog()
    q = catalog.get("Qwen/Qwen3-1.7B")
    assert q is not None and q.sft_context is None and q.full_training is None
    mixtral = catalog.get("mistralai/Mixtral-8x7B-v0.1")
    assert mixtral is not None and mixtral.full_training is True and mixtral.full is not None
    assert mixtral.full.max_batch_size == 16 and mixtral.moe
    scout = catalog.get("meta-llama/Llama-4-Scout-17B-16E-Instruct")
    assert scout is not None and scout.full_training is False and scout.full is None


def test_bad_row_fails_validation() -> None:
    raw = json.loads(resources.files("byom.catalog").joinpath("bases.json").read_text(encoding="utf-8"))
    raw["bases"][0]["param_count"] = "seven billion"
    with pytest.raises(ValueError):
        Catalog.model_validate(raw)


def test_packaged_catalog_is_a_copy() -> None:
    first = load_packaged_catalog()
    first.bases.clear()
    assert load_packaged_catalog().bases


@pytest.mark.parametrize(
    "name",
    [
        "togethercomputer/llama-2-7b-chat",
        "mistralai/Mixtral-8x7B-v0.1",
        "Qwen/Qwen3-1.7B",
        "deepseek-ai/DeepSeek-R1",
        "Qwen/Qwen3-235B-A22B",
    ],
)
def test_limits_payload_parses_with_sdk_311(name: str) -> None:
    base = load_packaged_catalog().get(name)
    assert base is not None
    payload = limits_payload(base)
    # Strict validation with the real SDK type: every required field present and typed.
    limits = FinetuneModelLimits.model_validate(payload)
    assert limits.api_model_name == name
    assert limits.max_seq_length_sft >= limits.min_max_seq_length
    assert limits.lora_training.max_batch_size >= limits.lora_training.min_batch_size
    assert limits.supports_full_training == (payload["full_training"] is not None)
    assert set(payload) == (set(FinetuneModelLimits.model_fields) - {"api_model_name"}) | {"model_name"}


def test_limits_payload_values() -> None:
    catalog = load_packaged_catalog()
    llama2 = limits_payload(catalog.get("togethercomputer/llama-2-7b-chat"))  # type: ignore[arg-type]
    assert llama2["max_seq_length_sft"] == 4096 and llama2["lora_training"]["max_batch_size"] == 64
    # Unconfirmed full FT counts as supported (docs: "most dense models"), batch figures from LoRA's.
    assert llama2["supports_full_training"] is True
    assert llama2["full_training"] == {"max_batch_size": 64, "max_batch_size_dpo": 32, "min_batch_size": 8}
    scout = limits_payload(catalog.get("meta-llama/Llama-4-Scout-17B-16E"))  # type: ignore[arg-type]
    assert scout["full_training"] is None and scout["supports_full_training"] is False
    mixtral = limits_payload(catalog.get("mistralai/Mixtral-8x7B-v0.1"))  # type: ignore[arg-type]
    assert mixtral["full_training"]["max_batch_size"] == 16 and mixtral["supports_full_training"] is True
    deepseek = limits_payload(catalog.get("deepseek-ai/DeepSeek-R1"))  # type: ignore[arg-type]
    assert deepseek["lora_training"]["max_rank"] == 16
    assert deepseek["default_gradient_accumulation_steps"] == 8  # batch 1 → accumulation 8 (docs)


def test_supported_model_payload_parses_with_sdk_311() -> None:
    for base in load_packaged_catalog().bases:
        payload = supported_model_payload(base)
        model = SupportedModel.model_validate(payload)
        assert model.name == base.name and "PRODUCT_FINE_TUNING" in model.products
        if base.sft_context:
            assert model.context_length == str(base.sft_context)


@pytest.mark.parametrize("method", ["sft", "dpo"])
def test_recommend_and_engine_limits_agree_on_every_row(method: str) -> None:
    """recommend_base and the engine's limits endpoint state the same facts for each base (#13)."""
    from byom.engine.templates import limits_for

    catalog = load_packaged_catalog()
    for base in catalog.bases:
        alone = catalog.model_copy(update={"bases": [base]})
        pick = recommend(CustomModelFacts(model="x/y", family=base.family), alone, method=method).pick  # type: ignore[arg-type]
        engine = limits_for(base.name)
        assert pick is not None and engine is not None, base.name
        facts = base_limits(base)
        got = (
            pick.full_supported,
            pick.context,
            pick.lora_supported,
            pick.max_batch_size,
            pick.min_batch_size,
        )
        lora = engine["lora_training"]
        want = (
            engine["supports_full_training"],
            engine[f"max_seq_length_{method}"],
            lora is not None,
            lora and lora["max_batch_size_dpo" if method == "dpo" else "max_batch_size"],
            lora and lora["min_batch_size"],
        )
        assert got == want, base.name
        assert (engine["full_training"] is not None) == pick.full_supported == facts.supports_full_training
        assert pick.context_on_record == facts.context_on_record(method), base.name
        assert ("context unknown" in " ".join(pick.reasons)) == (not pick.context_on_record), base.name
