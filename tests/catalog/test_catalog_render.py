"""The text of a recommendation: the docs' fallback clause only when the family did not match."""

from __future__ import annotations

from byom.catalog import CustomModelFacts, load_packaged_catalog, recommend, render_recommendation


def _rule_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Rule:"))


def test_matched_family_leaves_out_the_closest_family_clause() -> None:
    custom = CustomModelFacts(
        model="me/llama-ft", family="llama", model_type="llama", param_count=7_000_000_000
    )
    rec = recommend(custom, load_packaged_catalog())
    assert rec.matched_family == rec.family
    rule = _rule_line(render_recommendation(rec))
    assert "closest family" not in rule and "same architecture" in rule


def test_unmatched_family_says_the_closest_family_rule() -> None:
    custom = CustomModelFacts(
        model="me/odd", family="nosuchfamily", model_type="nosuchfamily", param_count=1_000_000
    )
    rec = recommend(custom, load_packaged_catalog())
    if rec.pick is not None:
        assert rec.matched_family != rec.family
        assert "closest family" in _rule_line(render_recommendation(rec))


def test_tiny_models_are_not_zero_millions() -> None:
    custom = CustomModelFacts(model="me/tiny", family="llama", model_type="llama", param_count=41_000)
    text = render_recommendation(recommend(custom, load_packaged_catalog()))
    assert "0M" not in text and "41K" in text
