"""Token usage: read once from what the Codex backend reports, then written in each dialect.

`usage_from_codex` is the one reading of an upstream `usage` object (Responses spelling, or
Chat's `prompt_tokens` spelling, or the image tool's `tool_usage.image_gen`). Counts that are
missing, negative or not integers read as 0 (`read_usage`); a usage object without an input
count reads as None in `usage_from_codex`, which records count as "usage unknown" and never
guess. The writers give each dialect
the shape its SDKs validate.

Pure: no I/O.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Split:
    """The image tool's breakdown of a count into image and text tokens."""

    image: int = 0
    text: int = 0

    def __add__(self, other: "Split") -> "Split":
        return Split(self.image + other.image, self.text + other.text)


@dataclass(frozen=True)
class TokenUsage:
    input: int = 0
    cached: int = 0  # part of `input` served from the prompt cache
    output: int = 0
    reasoning: int = 0  # part of `output` spent reasoning
    total: int = 0
    input_split: Split | None = None  # reported by the image tool only
    output_split: Split | None = None

    def counts(self) -> "TokenUsage":
        """The five counts alone, without the image tool's breakdown (what records keep)."""
        return TokenUsage(self.input, self.cached, self.output, self.reasoning, self.total)

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        return TokenUsage(
            self.input + other.input,
            self.cached + other.cached,
            self.output + other.output,
            self.reasoning + other.reasoning,
            self.total + other.total,
            _add_splits(self.input_split, other.input_split),
            _add_splits(self.output_split, other.output_split),
        )


def _add_splits(a: Split | None, b: Split | None) -> Split | None:
    if a is None or b is None:
        return a or b
    return a + b


def count(value: object) -> int:
    """A token count as reported: a non-negative integer, anything else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def read_usage(usage: dict[str, Any]) -> TokenUsage:
    """Every count of a Codex/Responses `usage` object (or Chat's spelling); missing ones 0."""
    input_details = _dict(usage.get("input_tokens_details") or usage.get("prompt_tokens_details"))
    output_details = _dict(
        usage.get("output_tokens_details") or usage.get("completion_tokens_details")
    )
    input_tokens = count(usage.get("input_tokens", usage.get("prompt_tokens")))
    output_tokens = count(usage.get("output_tokens", usage.get("completion_tokens")))
    total = usage.get("total_tokens")
    return TokenUsage(
        input=input_tokens,
        cached=count(input_details.get("cached_tokens")),
        output=output_tokens,
        reasoning=count(output_details.get("reasoning_tokens")),
        total=count(total) if isinstance(total, int) else input_tokens + output_tokens,
        input_split=_split(usage.get("input_tokens_details")),
        output_split=_split(usage.get("output_tokens_details")),
    )


def usage_from_codex(usage: object) -> TokenUsage | None:
    """The usage a reply reported, or None when it reported none (no input count at all)."""
    if not isinstance(usage, dict):
        return None
    if "input_tokens" not in usage and "prompt_tokens" not in usage:
        return None
    return read_usage(usage)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _split(details: object) -> Split | None:
    if not isinstance(details, dict) or not ("image_tokens" in details or "text_tokens" in details):
        return None
    return Split(count(details.get("image_tokens")), count(details.get("text_tokens")))


# --- writers ----------------------------------------------------------------------------------


def chat_usage(usage: TokenUsage) -> dict[str, Any]:
    """Usage in Chat Completions terms."""
    return {
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.total,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


def responses_usage(raw: dict[str, Any]) -> dict[str, Any]:
    """A Responses `usage` object with every count and detail object the SDK requires.

    The backend may send nulls or leave detail objects out; its other fields are kept.
    """
    usage = read_usage(raw)
    input_details = _dict(raw.get("input_tokens_details"))
    output_details = _dict(raw.get("output_tokens_details"))
    return {
        **raw,
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "total_tokens": usage.total,
        "input_tokens_details": {
            **input_details,
            "cached_tokens": usage.cached,
            "cache_write_tokens": count(input_details.get("cache_write_tokens")),
        },
        "output_tokens_details": {**output_details, "reasoning_tokens": usage.reasoning},
    }


def images_usage(usage: TokenUsage) -> dict[str, Any]:
    """Usage in the shape the Images API's `Usage` models require."""
    written: dict[str, Any] = {
        "input_tokens": usage.input,
        "input_tokens_details": _split_fields(usage.input_split or Split()),
        "output_tokens": usage.output,
        "total_tokens": usage.total,
    }
    if usage.output_split is not None:
        written["output_tokens_details"] = _split_fields(usage.output_split)
    return written


def _split_fields(split: Split) -> dict[str, int]:
    return {"image_tokens": split.image, "text_tokens": split.text}
