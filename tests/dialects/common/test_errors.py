"""One table maps upstream failure codes to the client's status and type, for every dialect."""

import json
from typing import Any

import pytest

from azt.dialects.chat.reply import ChatTranslator
from azt.dialects.chat.request import plan_chat_request
from azt.dialects.common.errors import UPSTREAM_CODES, outcome_of, upstream_failure
from azt.dialects.common.sse import encode_event
from azt.dialects.images import collect_image
from azt.dialects.responses.reply import ResponsesTranslator
from azt.dialects.responses.request import plan_responses_request
from azt.errors import ApiError


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        ({"code": "server_is_overloaded"}, 503, "server_error"),
        ({"code": "slow_down"}, 503, "server_error"),
        ({"code": "gateway_shutting_down"}, 503, "server_error"),
        ({"code": "context_length_exceeded"}, 400, "invalid_request_error"),
        ({"code": "invalid_prompt"}, 400, "invalid_request_error"),
        ({"code": "cyber_policy"}, 400, "invalid_request_error"),
        ({"code": "moderation_blocked"}, 400, "image_generation_user_error"),
        ({"code": "safety_refusal"}, 400, "invalid_request_error"),
        ({"code": "content_policy_violation"}, 400, "invalid_request_error"),
        ({"type": "usage_limit_reached", "resets_at": 9}, 429, "rate_limit_error"),
        ({"code": "usage_not_included"}, 429, "rate_limit_error"),
        ({"code": "rate_limit_exceeded"}, 429, "rate_limit_error"),
        ({"code": "insufficient_quota"}, 429, "rate_limit_error"),
        ({"code": "internal_error"}, 500, "server_error"),
        ({"code": "server_error"}, 502, "server_error"),
        ({"code": "upstream_stream_truncated"}, 502, "server_error"),
        ({"code": "upstream_idle_timeout"}, 504, "server_error"),
        ({"code": "invalid_value", "type": "invalid_request_error"}, 400, "invalid_request_error"),
        ({}, 502, "server_error"),
    ],
)
def test_failure_statuses(error: dict[str, Any], status: int, kind: str) -> None:
    """Each failure code has one status and one type."""
    failure = upstream_failure(error)
    assert (failure.status, failure.error_type) == (status, kind)


def test_failures_keep_their_message_param_and_reset_time() -> None:
    """The message, the param and the fields a usage limit names pass on; others do not."""
    failure = upstream_failure(
        {
            "code": "usage_limit_reached",
            "message": "limit",
            "param": "input",
            "plan_type": "plus",
            "resets_at": 9,
            "internal": "x",
        }
    )
    body = failure.body()["error"]
    assert (body["message"], body["param"], body["plan_type"], body["resets_at"]) == (
        "limit",
        "input",
        "plus",
        9,
    )
    assert "internal" not in body


def test_a_failure_without_a_message_names_its_code() -> None:
    assert "(slow_down)" in upstream_failure({"code": "slow_down"}).message
    assert upstream_failure({}, fallback="It broke.").message == "It broke."


def _failed_stream(code: str) -> bytes:
    created = {"type": "response.created", "response": {"id": "resp_1"}}
    failed = {
        "type": "response.failed",
        "response": {"id": "resp_1", "status": "failed", "error": {"code": code, "message": "m"}},
    }
    return encode_event(created) + encode_event(failed)


def _chat(code: str) -> tuple[int, str]:
    plan = plan_chat_request(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, model="m"
    )
    status, body = ChatTranslator(plan, requested_model="m", counter=None).collapse(
        _failed_stream(code)
    )
    return status, body["error"]["type"]


def _responses(code: str) -> tuple[int, str]:
    plan = plan_responses_request({"model": "m", "input": "hi"}, model="m")
    status, body = ResponsesTranslator(plan, requested_model="m").collapse(_failed_stream(code))
    return status, body["error"]["type"]


def _images(code: str) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        collect_image(_failed_stream(code))
    body = json.loads(caught.value.body_bytes())
    return caught.value.status, body["error"]["type"]


@pytest.mark.parametrize("code", sorted(UPSTREAM_CODES))
def test_every_dialect_gives_a_code_the_same_answer(code: str) -> None:
    """Chat, Responses and Images answer a failed reply with the table's status and type."""
    outcome = outcome_of(code)
    expected = (outcome.status, ApiError(outcome.status, "", type=outcome.type).error_type)
    assert _chat(code) == _responses(code) == _images(code) == expected
