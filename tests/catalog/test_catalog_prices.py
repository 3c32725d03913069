"""The packaged rate table (``prices.json``) and ``offline_price``: a plan's price before any upload."""

from __future__ import annotations

import pytest

from byom.catalog import CatalogBase, load_packaged_catalog, load_price_table, offline_price


def test_the_table_names_its_source_and_date_and_every_packaged_base_has_an_sft_lora_rate() -> None:
    table = load_price_table()
    assert "together.ai/pricing" in table.source and table.retrieved and table.as_of
    assert "no minimum" in table.notes and "$4.00" in table.notes  # the sources disagree: which was taken
    for base in load_packaged_catalog().bases:
        price = offline_price(1_000_000, base, method="sft", training_type="lora")
        assert price.usd is not None, (base.name, price.basis)


@pytest.mark.parametrize(
    ("name", "method", "training_type", "tokens", "usd"),
    [
        ("togethercomputer/llama-2-7b-chat", "sft", "lora", 100_000_000, 48.0),  # up to 16B: $0.48 per 1M
        ("togethercomputer/llama-2-7b-chat", "dpo", "full", 10_000_000, 13.5),  # $1.35 per 1M
        ("togethercomputer/llama-2-7b-chat", "sft", "lora", 1_000, 4.0),  # the minimum charge
        ("openai/gpt-oss-120b", "sft", "lora", 1_000, 6.0),  # its own rate and minimum
        (
            "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
            "sft",
            "lora",
            10_000_000,
            29.0,
        ),  # a dense 70B: bracket
    ],
)
def test_a_price_is_tokens_times_the_rate_of_the_base_method_and_type(
    name: str, method: str, training_type: str, tokens: int, usd: float
) -> None:
    base = load_packaged_catalog().get(name)
    price = offline_price(tokens, base, method=method, training_type=training_type)  # type: ignore[arg-type]
    assert price.usd == usd
    assert f"{tokens:,} tokens" in price.basis and "rate table packaged with byom" in price.basis


@pytest.mark.parametrize(
    ("base", "why"),
    [
        (None, "not in the catalog"),
        (CatalogBase(name="x/unsized", family="llama"), "size of base x/unsized is unknown"),
        (
            CatalogBase(name="x/huge", family="llama", param_count=400_000_000_000),
            "larger than every size bracket",
        ),
    ],
)
def test_without_a_known_rate_the_price_is_none_and_says_why(base: CatalogBase | None, why: str) -> None:
    price = offline_price(1_000_000, base, method="sft", training_type="lora")
    assert price.usd is None and why in price.basis
    # #16: the formula filled in as far as it is known, and what failing or cancelling costs.
    assert (
        "Rate not known offline: the price is 1,000,000 tokens × the base's SFT lora rate per 1M"
        in price.basis
    )
    assert "fails is refunded" in price.basis and "pays for the steps it completed" in price.basis


def test_a_known_rate_says_what_a_failed_or_cancelled_job_costs() -> None:
    base = load_packaged_catalog().get("togethercomputer/llama-2-7b-chat")
    price = offline_price(1_000, base, method="sft", training_type="lora")
    assert "fails is refunded" in price.basis and "pays for the steps it completed" in price.basis


def test_a_lora_only_model_has_no_full_training_rate() -> None:
    base = load_packaged_catalog().get("openai/gpt-oss-120b")
    price = offline_price(1_000_000, base, method="sft", training_type="full")
    assert price.usd is None and "no full training rate" in price.basis
