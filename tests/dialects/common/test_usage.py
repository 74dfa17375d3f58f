"""Upstream usage, read once and written in each dialect's shape."""

from azt.dialects.common.usage import (
    Split,
    TokenUsage,
    chat_usage,
    images_usage,
    read_usage,
    responses_usage,
    usage_from_codex,
)

CODEX = {
    "input_tokens": 20,
    "input_tokens_details": {"cached_tokens": 8},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 3},
    "total_tokens": 27,
}


def test_one_reading_of_the_codex_spelling_and_the_chat_spelling() -> None:
    chat = {
        "prompt_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens": 7,
        "completion_tokens_details": {"reasoning_tokens": 3},
        "total_tokens": 27,
    }
    expected = TokenUsage(input=20, cached=8, output=7, reasoning=3, total=27)
    assert usage_from_codex(CODEX) == usage_from_codex(chat) == expected


def test_counts_that_are_not_counts_read_as_zero() -> None:
    odd = {"input_tokens": -4, "output_tokens": True, "total_tokens": "9"}
    assert read_usage(odd) == TokenUsage()


def test_a_reply_without_an_input_count_reported_no_usage_but_its_counts_still_read() -> None:
    """Records count it as unknown; a client still sees the counts upstream sent."""
    partial = {"output_tokens": 5}
    assert usage_from_codex(partial) is None
    assert chat_usage(read_usage(partial))["completion_tokens"] == 5
    assert responses_usage(partial)["output_tokens"] == 5


def test_each_dialect_gets_its_own_shape() -> None:
    usage = read_usage(CODEX)
    assert chat_usage(usage) == {
        "prompt_tokens": 20,
        "completion_tokens": 7,
        "total_tokens": 27,
        "prompt_tokens_details": {"cached_tokens": 8},
        "completion_tokens_details": {"reasoning_tokens": 3},
    }
    written = responses_usage({**CODEX, "output_tokens_details": None, "extra": 1})
    assert written["output_tokens_details"] == {"reasoning_tokens": 0}
    assert written["input_tokens_details"] == {"cached_tokens": 8, "cache_write_tokens": 0}
    assert written["extra"] == 1  # the backend's other fields are kept


def test_the_image_tools_split_adds_up_and_is_written_for_images_only() -> None:
    image = {
        "input_tokens": 50,
        "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
        "output_tokens": 1056,
        "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0},
        "total_tokens": 1106,
    }
    one = read_usage(image)
    assert (one.input_split, one.output_split) == (Split(40, 10), Split(1056, 0))
    both = one + one
    assert images_usage(both) == {
        "input_tokens": 100,
        "input_tokens_details": {"image_tokens": 80, "text_tokens": 20},
        "output_tokens": 2112,
        "total_tokens": 2212,
        "output_tokens_details": {"image_tokens": 2112, "text_tokens": 0},
    }
    assert both.counts() == TokenUsage(input=100, output=2112, total=2212)
    assert "output_tokens_details" not in images_usage(TokenUsage(input=1, total=1))
