"""Reasoning efforts: moving a requested effort onto the levels a model offers."""

from collections.abc import Sequence

# Every effort name the backend or OpenAI's APIs use, from least to most thinking.
LADDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")


def nearest_effort(requested: str, levels: Sequence[str]) -> str | None:
    """The offered level closest to `requested` on the ladder, or None when nothing ranks.

    A tie goes to the higher effort: the client asked for at least that much thinking.
    """
    ranked = [level for level in levels if level in LADDER]
    if requested not in LADDER or not ranked:
        return None
    want = LADDER.index(requested)
    return min(ranked, key=lambda level: (abs(LADDER.index(level) - want), -LADDER.index(level)))
