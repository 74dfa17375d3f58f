"""Token usage parsing and the request record's derived fields and JSON form."""

import json
from typing import Any

import pytest

from azt.dialects.common.usage import TokenUsage, usage_from_codex
from azt.records.record import RequestRecord
from support.records import make_record as shared_record


def make_record(**overrides: Any) -> RequestRecord:
    fields: dict[str, Any] = {
        "started_at": 1_800_000_000.5,
        "duration_ms": 1234.5678,
        "ttfb_ms": 210.1234,
        "cost_micro_usd": None,
    }
    return shared_record(**(fields | overrides))


# -- usage_from_codex ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param(
            {
                "input_tokens": 100,
                "input_tokens_details": {"cached_tokens": 40},
                "output_tokens": 50,
                "output_tokens_details": {"reasoning_tokens": 20},
                "total_tokens": 150,
            },
            TokenUsage(input=100, cached=40, output=50, reasoning=20, total=150),
            id="responses",
        ),
        pytest.param(
            {
                "prompt_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 3},
                "completion_tokens": 7,
                "completion_tokens_details": {"reasoning_tokens": 2},
                "total_tokens": 19,
            },
            TokenUsage(input=12, cached=3, output=7, reasoning=2, total=19),
            id="chat-spelling",
        ),
        pytest.param(
            {"input_tokens": 10, "output_tokens": 5},
            TokenUsage(input=10, output=5, total=15),
            id="no-total-is-summed",
        ),
        pytest.param(
            {"input_tokens": 10, "output_tokens": 5, "total_tokens": 99},
            TokenUsage(input=10, output=5, total=99),
            id="reported-total-is-kept",
        ),
        pytest.param(
            {
                "input_tokens": 10,
                "input_tokens_details": None,
                "output_tokens": 5,
                "output_tokens_details": None,
            },
            TokenUsage(input=10, output=5, total=15),
            id="null-details",
        ),
        pytest.param(
            {
                "input_tokens": 10,
                "input_tokens_details": ["cached_tokens"],
                "output_tokens": 5,
                "output_tokens_details": "reasoning",
            },
            TokenUsage(input=10, output=5, total=15),
            id="malformed-details",
        ),
        pytest.param(
            {"input_tokens": 10},
            TokenUsage(input=10, total=10),
            id="input-only",
        ),
        pytest.param(
            {"prompt_tokens": 4},
            TokenUsage(input=4, total=4),
            id="prompt-only",
        ),
        pytest.param(
            {"input_tokens": -3, "output_tokens": "5", "total_tokens": 1.5},
            TokenUsage(),
            id="bad-counts-are-zero",
        ),
        pytest.param(
            {"input_tokens": True, "output_tokens": 2},
            TokenUsage(input=0, output=2, total=2),
            id="bool-is-not-a-count",
        ),
        pytest.param(
            {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
            TokenUsage(),
            id="all-zero-is-known",
        ),
    ],
)
def test_usage_from_codex(usage: object, expected: TokenUsage) -> None:
    assert usage_from_codex(usage) == expected


@pytest.mark.parametrize(
    "usage",
    [None, {}, "usage", 42, [], {"output_tokens": 5}, {"total_tokens": 10}],
)
def test_usage_from_codex_absent(usage: object) -> None:
    """No input count at all means the upstream reported no usage: None, never zeros."""
    assert usage_from_codex(usage) is None


def test_token_usage_adds_field_by_field() -> None:
    a = TokenUsage(input=1, cached=2, output=3, reasoning=4, total=5)
    b = TokenUsage(input=10, cached=20, output=30, reasoning=40, total=50)
    assert a + b == TokenUsage(input=11, cached=22, output=33, reasoning=44, total=55)
    assert a + TokenUsage() == a


# -- RequestRecord ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "ok"),
    [
        (200, None, True),
        (204, None, True),
        (399, None, True),
        (400, None, False),
        (429, "usage_limit_reached", False),
        (500, None, False),
        (200, "response.failed", False),  # a failure inside a 200 stream
        (None, None, False),  # the client went away before an answer
        (None, "client_disconnected", False),
    ],
)
def test_ok(status: int | None, error_type: str | None, ok: bool) -> None:
    assert make_record(status=status, error_type=error_type).ok is ok


@pytest.mark.parametrize(("attempts", "failovers"), [(0, 0), (1, 0), (2, 1), (5, 4)])
def test_failovers(attempts: int, failovers: int) -> None:
    assert make_record(attempts=attempts).failovers == failovers


@pytest.mark.parametrize(
    ("requested", "served", "model"),
    [
        ("gpt-5.4", "gpt-5.4-2026-01-01", "gpt-5.4-2026-01-01"),
        ("gpt-5.4", None, "gpt-5.4"),
        (None, "gpt-5.5", "gpt-5.5"),
        (None, None, None),
    ],
)
def test_model_prefers_served(requested: str | None, served: str | None, model: str | None) -> None:
    assert make_record(model_requested=requested, model_served=served).model == model


def test_as_json_full() -> None:
    record = make_record(
        image_count=2,
        image_route="image-tool",
        cost_micro_usd=1234,
        attempts=3,
        preview_in="hi",
        preview_out="hello",
    )
    assert record.as_json() == {
        "id": "flow-1",
        "started_at": 1_800_000_000.5,
        "ingress": "reverse",
        "client": "127.0.0.1",
        "source": "curl",
        "source_version": "8.5.0",
        "method": "POST",
        "endpoint": "chat.completions",
        "dialect": "chat",
        "stream": False,
        "model_requested": "gpt-5.4",
        "model_served": "gpt-5.4",
        "account": "acct-a",
        "status": 200,
        "ok": True,
        "error_type": None,
        "attempts": 3,
        "failovers": 2,
        "duration_ms": 1234.568,
        "ttfb_ms": 210.123,
        "usage": {
            "input_tokens": 100,
            "cached_tokens": 40,
            "output_tokens": 50,
            "reasoning_tokens": 20,
            "total_tokens": 150,
        },
        "image_count": 2,
        "image_route": "image-tool",
        "cost_micro_usd": 1234,
        "preview_in": "hi",
        "preview_out": "hello",
    }


def test_as_json_unknowns() -> None:
    """Unknown usage and ttfb stay null; previews are absent unless recorded."""
    record = make_record(usage=None, ttfb_ms=None, status=None, error_type="client_disconnected")
    data = record.as_json()
    assert data["usage"] is None
    assert data["ttfb_ms"] is None
    assert data["cost_micro_usd"] is None
    assert data["ok"] is False
    assert "preview_in" not in data and "preview_out" not in data
    json.dumps(data)  # serialisable as is


def test_record_is_frozen() -> None:
    record = make_record()
    with pytest.raises(AttributeError):
        record.status = 500  # type: ignore[misc]
