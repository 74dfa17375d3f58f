"""Pricing a request on the metered API: lookup by name or pattern, integer micro-USD."""

from decimal import Decimal

import pytest

from azt.dialects.common.usage import TokenUsage
from azt.records.prices import (
    DEFAULT_PRICES,
    IMAGE_PRICE_KEY,
    Price,
    PriceTable,
    merged_prices,
)

DEFAULTS = PriceTable(DEFAULT_PRICES)


def usage(input: int = 0, cached: int = 0, output: int = 0, reasoning: int = 0) -> TokenUsage:
    return TokenUsage(input, cached, output, reasoning, input + output)


@pytest.mark.parametrize(
    ("model", "entry"),
    [
        ("gpt-5", "gpt-5"),  # exact
        ("gpt-5-codex", "gpt-5-codex"),  # exact, though `gpt-5*-mini` style patterns exist
        ("gpt-5.4", "gpt-5.4*"),
        ("gpt-5.4-2026-03-05", "gpt-5.4*"),
        ("gpt-5.5-codex", "gpt-5.5*"),
        ("gpt-5.1-codex-max", "gpt-5.1*"),
        ("gpt-5.4-mini", "gpt-5*-mini"),  # 10 literal characters beat 7
        ("gpt-5-mini", "gpt-5*-mini"),
        ("gpt-5.1-codex-mini", "gpt-5*-mini"),
        ("gpt-5-nano", "gpt-5*-nano"),
        ("codex-mini-latest", "codex-mini*"),
        ("gpt-image-1", IMAGE_PRICE_KEY),
    ],
)
def test_price_of_defaults(model: str, entry: str) -> None:
    assert DEFAULTS.price_of(model) == Price.of(DEFAULT_PRICES[entry])


@pytest.mark.parametrize("model", ["gpt-4o", "o3", "gpt-5x", "GPT-5", "", "gpt-image-2"])
def test_price_of_unknown(model: str) -> None:
    """Matching is case-sensitive and whole-name: no entry, no price."""
    assert DEFAULTS.price_of(model) is None


def test_exact_name_beats_any_pattern() -> None:
    table = PriceTable(
        {
            "gpt-5.4-mini*": {"input": 1, "output": 1},  # more literal characters...
            "gpt-5.4-min?": {"input": 3, "output": 3},
            "gpt-5.4-mini": {"input": 2, "output": 2},  # ...but this is the name itself
        }
    )
    assert table.price_of("gpt-5.4-mini") == Price.of({"input": 2, "output": 2})
    assert table.price_of("gpt-5.4-mini-high") == Price.of({"input": 1, "output": 1})


def test_most_specific_pattern_wins_regardless_of_order() -> None:
    entries = {
        "*": {"input": 1, "output": 1},
        "gpt-*": {"input": 2, "output": 2},
        "gpt-5*": {"input": 3, "output": 3},
        "gpt-5.4*": {"input": 4, "output": 4},
    }
    for ordered in (entries, dict(reversed(entries.items()))):
        table = PriceTable(ordered)
        assert table.price_of("gpt-5.4-pro") == Price.of({"input": 4, "output": 4})
        assert table.price_of("gpt-5.1") == Price.of({"input": 3, "output": 3})
        assert table.price_of("gpt-4o") == Price.of({"input": 2, "output": 2})
        assert table.price_of("o3") == Price.of({"input": 1, "output": 1})


def test_price_of_reads_strings_ints_and_floats_exactly() -> None:
    price = Price.of({"input": "1.75", "cached_input": 0.175, "output": 14})
    assert price == Price(Decimal("1.75"), Decimal("0.175"), Decimal("14"))


def test_cached_price_defaults_to_input() -> None:
    assert Price.of({"input": 3, "output": 9}).cached_input == Decimal(3)


TABLE = PriceTable(
    {
        "m": {"input": 2, "cached_input": 1, "output": 8},
        "half": {"input": 0.5, "output": 0.5},
        "eighth": {"input": 0.125, "output": 0},
        "list": {"input": 1.75, "cached_input": 0.175, "output": 14.0},
        IMAGE_PRICE_KEY: {"input": 10, "cached_input": 2.5, "output": 40},
        "gpt-image-2": {"input": 5, "cached_input": 1, "output": 20},
    }
)


@pytest.mark.parametrize(
    ("model", "tokens", "micro_usd"),
    [
        ("m", usage(input=1), 2),  # one token at price p costs p micro-USD
        ("m", usage(output=1), 8),
        ("m", usage(input=100, cached=30, output=50), 70 * 2 + 30 * 1 + 50 * 8),
        # Reasoning tokens are part of the output: never charged twice.
        ("m", usage(input=10, output=10, reasoning=7), 10 * 2 + 10 * 8),
        # More cached than input (a confused upstream) is capped at the input.
        ("m", usage(input=10, cached=25), 10 * 1),
        ("m", usage(), 0),
        ("list", usage(input=1_000_000), 1_750_000),
        ("list", usage(input=1_000_000, cached=1_000_000), 175_000),
        ("list", usage(input=3_000, cached=1_000, output=500), 3_500 + 175 + 7_000),
        ("list", usage(input=1), 2),  # 1.75 rounds up
        ("list", usage(input=1, cached=1), 0),  # 0.175 rounds down
        # ROUND_HALF_UP: halves go up, where banker's rounding would go to even.
        ("half", usage(input=1), 1),
        ("half", usage(input=3), 2),
        ("half", usage(input=5), 3),
        ("eighth", usage(input=4), 1),  # 0.5
        ("eighth", usage(input=12), 2),  # 1.5
        ("eighth", usage(input=20), 3),  # 2.5
        ("eighth", usage(input=3), 0),  # 0.375
    ],
)
def test_cost(model: str, tokens: TokenUsage, micro_usd: int) -> None:
    cost = TABLE.cost(model, tokens)
    assert cost == micro_usd
    assert type(cost) is int


@pytest.mark.parametrize(
    ("model", "tokens"),
    [
        ("m", None),  # no usage reported: never guessed
        (None, usage(input=10)),  # no model to price by
        ("", usage(input=10)),
        ("unpriced-model", usage(input=10)),
    ],
)
def test_cost_unknown(model: str | None, tokens: TokenUsage | None) -> None:
    assert TABLE.cost(model, tokens) is None


def test_image_usage_is_priced_by_the_image_entry() -> None:
    image = usage(input=100, cached=20, output=10)
    image_cost = 80 * 10 + 20 * 2.5 + 10 * 40
    assert TABLE.cost(None, None, image) == image_cost
    # The model turn and the image tool's tokens add up, each at its own price.
    assert TABLE.cost("m", usage(input=10), image) == 10 * 2 + image_cost


def test_image_model_entry_when_given() -> None:
    image = usage(input=100, output=10)
    assert TABLE.cost(None, None, image, image_model="gpt-image-2") == 100 * 5 + 10 * 20
    # A model with no entry of its own falls back to the default image entry.
    assert TABLE.cost(None, None, image, image_model="gpt-image-9") == 100 * 10 + 10 * 40
    assert TABLE.cost(None, None, image, image_model=None) == 100 * 10 + 10 * 40


def test_any_unpriced_part_makes_the_whole_unknown() -> None:
    no_images = PriceTable({"m": {"input": 2, "output": 8}})
    assert no_images.cost("m", usage(input=10), usage(input=1)) is None
    assert no_images.cost(None, None, usage(input=1)) is None
    assert TABLE.cost("unpriced-model", usage(input=10), usage(input=1)) is None
    # Without image usage, the missing image entry does not matter.
    assert no_images.cost("m", usage(input=10)) == 20


def test_merged_prices() -> None:
    before = {k: dict(v) for k, v in DEFAULT_PRICES.items()}
    merged = merged_prices(
        {"gpt-5": {"input": 9, "output": 99}, "my-model": {"input": 1, "output": 2}}
    )
    # One entry replaces one default entirely (no cached_input left over from it).
    assert merged["gpt-5"] == {"input": 9, "output": 99}
    assert merged["my-model"] == {"input": 1, "output": 2}
    assert set(merged) == set(DEFAULT_PRICES) | {"my-model"}
    assert merged["gpt-5.4*"] == DEFAULT_PRICES["gpt-5.4*"]
    assert DEFAULT_PRICES == before  # the defaults are not modified
    table = PriceTable(merged)
    assert table.cost("gpt-5", usage(input=10, cached=10)) == 90  # cached at the input price
    assert merged_prices({}) == DEFAULT_PRICES


def test_default_prices_are_sane() -> None:
    table = PriceTable(DEFAULT_PRICES)
    assert table.price_of(IMAGE_PRICE_KEY) is not None
    for pattern, entry in DEFAULT_PRICES.items():
        price = Price.of(entry)
        assert 0 <= price.cached_input <= price.input, pattern
        assert price.output >= 0, pattern
