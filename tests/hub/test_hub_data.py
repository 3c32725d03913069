"""Shipped package data: transformers-derived type lists and the family table."""

from __future__ import annotations

import pytest

from byom.hub import _generate
from byom.hub._data import causal_lm_types, config_model_types, families


def _installed_transformers() -> str:
    transformers = pytest.importorskip("transformers")
    return str(transformers.__version__)


def test_causal_lm_types_match_a_fresh_generation() -> None:
    """Same transformers: identical. Another version: nothing shipped was dropped or remapped (new types
    may appear; `python -m byom.hub._generate` refreshes the file)."""
    version = _installed_transformers()
    shipped = causal_lm_types()
    fresh = _generate.generate_causal_lm_types()["mapping"]
    if shipped.transformers_version == version:
        assert fresh == shipped.mapping
    else:
        changed = {k: (v, fresh.get(k)) for k, v in shipped.mapping.items() if fresh.get(k) != v}
        assert not changed, f"transformers {version} dropped or remapped causal-LM types: {changed}"


def test_config_model_types_match_a_fresh_generation() -> None:
    version = _installed_transformers()
    shipped = config_model_types()
    fresh = _generate.generate_config_model_types()["model_types"]
    if shipped.transformers_version == version:
        assert fresh == shipped.model_types
    else:
        assert set(shipped.model_types) <= set(fresh), (
            f"transformers {version} no longer knows some model types"
        )


def test_generator_writes_both_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _installed_transformers()
    written = _generate.write_package_data(tmp_path)
    assert sorted(p.name for p in written) == ["causal_lm_types.json", "config_model_types.json"]


def test_causal_mapping_covers_classes_the_suffix_rule_misses() -> None:
    table = causal_lm_types()
    assert table.mapping["gpt2"] == "GPT2LMHeadModel"
    assert "Gemma3ForConditionalGeneration" in table.class_names
    assert not table.mapping["gpt2"].endswith("ForCausalLM")


def test_families_normalise_related_model_types() -> None:
    table = families()
    assert table["llama"] == "llama"
    assert table["gemma3_text"] == table["gemma3"] == "gemma3"
    assert table["deepseek_v3"] == "deepseek"
    # Every family key is a model type transformers knows.
    known = set(config_model_types().model_types)
    assert set(table) <= known, set(table) - known
