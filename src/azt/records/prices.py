"""What a request would have cost on the metered OpenAI API, in integer micro-USD.

Prices are USD per million tokens, so one token at price `p` costs `p` micro-USD. A model
is priced by its exact name, else by the longest matching pattern (`gpt-5.4*`). Requests
without upstream usage, or with a model no entry matches, have no cost: it is never guessed.
"""

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from azt.dialects.common.usage import TokenUsage

# The entry that prices the image tool's own tokens.
IMAGE_PRICE_KEY = "gpt-image-1"


@dataclass(frozen=True)
class Price:
    input: Decimal
    cached_input: Decimal
    output: Decimal

    @classmethod
    def of(cls, entry: Mapping[str, float | int | str]) -> "Price":
        input_price = Decimal(str(entry["input"]))
        cached = Decimal(str(entry.get("cached_input", entry["input"])))
        return cls(input_price, cached, Decimal(str(entry["output"])))

    def cost(self, usage: TokenUsage) -> Decimal:
        cached = min(usage.cached, usage.input)
        return (
            (usage.input - cached) * self.input
            + cached * self.cached_input
            + usage.output * self.output
        )


# List prices per million tokens (input, cached input, output); users adjust them in
# config.toml under [prices."<model or pattern>"].
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gpt-5.5*": {"input": 1.75, "cached_input": 0.175, "output": 14.0},
    "gpt-5.4*": {"input": 1.75, "cached_input": 0.175, "output": 14.0},
    "gpt-5.3*": {"input": 1.75, "cached_input": 0.175, "output": 14.0},
    "gpt-5.2*": {"input": 1.75, "cached_input": 0.175, "output": 14.0},
    "gpt-5.1*": {"input": 1.25, "cached_input": 0.125, "output": 10.0},
    "gpt-5": {"input": 1.25, "cached_input": 0.125, "output": 10.0},
    "gpt-5-codex": {"input": 1.25, "cached_input": 0.125, "output": 10.0},
    "gpt-5*-mini": {"input": 0.25, "cached_input": 0.025, "output": 2.0},
    "gpt-5*-nano": {"input": 0.05, "cached_input": 0.005, "output": 0.4},
    "codex-mini*": {"input": 1.5, "cached_input": 0.375, "output": 6.0},
    IMAGE_PRICE_KEY: {"input": 10.0, "cached_input": 2.5, "output": 40.0},
}


class PriceTable:
    def __init__(self, entries: Mapping[str, Mapping[str, float | int | str]]) -> None:
        self._prices = {pattern: Price.of(entry) for pattern, entry in entries.items()}

    def price_of(self, model: str) -> Price | None:
        if model in self._prices:
            return self._prices[model]
        matches = [p for p in self._prices if fnmatch.fnmatchcase(model, p)]
        # The most specific pattern wins: the one with the most literal characters.
        best = max(matches, key=lambda p: len(p.replace("*", "")), default=None)
        return self._prices[best] if best is not None else None

    def cost(
        self,
        model: str | None,
        usage: TokenUsage | None,
        image_usage: TokenUsage | None = None,
        image_model: str | None = None,
    ) -> int | None:
        """Micro-USD for a request, or None when any part of it cannot be priced.

        Image tokens are priced by `image_model`'s entry, else by the default image entry.
        """
        total = Decimal(0)
        if usage is None and image_usage is None:
            return None
        if usage is not None:
            price = self.price_of(model) if model else None
            if price is None:
                return None
            total += price.cost(usage)
        if image_usage is not None:
            image_price = (image_model and self.price_of(image_model)) or self.price_of(
                IMAGE_PRICE_KEY
            )
            if image_price is None:
                return None
            total += image_price.cost(image_usage)
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def merged_prices(
    overrides: Mapping[str, Mapping[str, float | int | str]],
) -> dict[str, Mapping[str, float | int | str]]:
    """The defaults with the user's entries on top (one entry replaces one default)."""
    return {**DEFAULT_PRICES, **overrides}
