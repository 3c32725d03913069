"""template_finding(): recommend_base's answer as the inspection's together_base finding, and the verdict it moves."""

from __future__ import annotations

import pytest

from byom.catalog import (
    Catalog,
    CustomModelFacts,
    load_packaged_catalog,
    recommend,
    template_finding,
    with_template_finding,
)
from byom.hub import InspectReport


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_packaged_catalog()


def _report(model: str, model_type: str, params: int, context: int) -> InspectReport:
    return InspectReport(
        model=model,
        source="hub",
        verdict="compatible",
        findings=[],
        model_type=model_type,
        family=model_type,
        is_causal_lm=True,
        param_count=params,
        max_context=context,
        transformers_ceiling="5.10",
    )


def test_a_rule_break_turns_compatible_into_compatible_with_warnings(catalog: Catalog) -> None:
    report = with_template_finding(_report("google/gemma-2-2b-it", "gemma2", 2_614_341_888, 8192), catalog)
    assert report.verdict == "compatible_with_warnings"
    finding = report.findings[-1]
    assert finding.check == "together_base" and finding.status == "warn" and finding.fix
    assert "google/gemma-3-1b-it" in finding.evidence and "least violation" in finding.evidence


def test_a_base_that_follows_the_rule_keeps_the_verdict(catalog: Catalog) -> None:
    report = with_template_finding(
        _report("HuggingFaceTB/SmolLM2-135M-Instruct", "llama", 134_515_008, 8192), catalog
    )
    assert report.verdict == "compatible"
    assert (
        report.findings[-1].status == "pass"
        and "togethercomputer/llama-2-7b-chat" in report.findings[-1].evidence
    )


def test_no_template_and_direct_and_unknown_architecture(catalog: Catalog) -> None:
    olmo = with_template_finding(_report("org/olmo", "olmo2", 1_000_000_000, 4096), catalog)
    assert olmo.verdict == "compatible_with_warnings"
    assert "Together has no base of the olmo2 family" in olmo.findings[-1].evidence
    direct = with_template_finding(_report("Qwen/Qwen3-8B", "qwen3", 8_190_735_360, 40960), catalog)
    assert (
        direct.verdict == "compatible"
        and "fine-tune it directly, no BYOM needed" in direct.findings[-1].evidence
    )
    # An unknown architecture is the inspection's own finding: nothing added here.
    assert template_finding(recommend(CustomModelFacts(model="x/y"), catalog)) is None
    encoder = _report("google-bert/bert-base-uncased", "bert", 110_000_000, 512).model_copy(
        update={"is_causal_lm": False}
    )
    assert with_template_finding(encoder, catalog) == encoder
