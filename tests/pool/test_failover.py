import json

import pytest

from azt.pool.accounts import AccountStatus
from azt.pool.failover import (
    Failure,
    Verdict,
    client_error,
    exhausted,
    is_overload_event,
    judge_status,
    no_capacity,
    upstream_message,
)
from support.accounts import make_account


@pytest.mark.parametrize(
    ("status", "refreshed", "verdict"),
    [
        (200, False, Verdict.DELIVER),
        (401, False, Verdict.REFRESH),
        (401, True, Verdict.NEXT_ACCOUNT),
        (403, False, Verdict.NEXT_ACCOUNT),
        (429, False, Verdict.NEXT_ACCOUNT),
        (500, False, Verdict.NEXT_ACCOUNT),
        (503, False, Verdict.NEXT_ACCOUNT),
        (400, False, Verdict.DELIVER),
        (404, False, Verdict.DELIVER),
    ],
)
def test_judge_status(status: int, refreshed: bool, verdict: Verdict) -> None:
    assert judge_status(status, refreshed=refreshed) is verdict


def test_overload_events() -> None:
    failed = {"type": "response.failed", "response": {"error": {"code": "server_is_overloaded"}}}
    assert is_overload_event(failed)
    assert is_overload_event({"type": "error", "error": {"code": "slow_down"}})
    other = {"type": "response.failed", "response": {"error": {"code": "context_length_exceeded"}}}
    assert not is_overload_event(other)
    assert not is_overload_event({"type": "response.output_text.delta"})


def test_upstream_message_reads_both_shapes() -> None:
    assert upstream_message(b'{"detail":"Store must be set to false"}') == (
        "Store must be set to false"
    )
    assert upstream_message(b'{"error":{"message":"nope"}}') == "nope"
    assert upstream_message(b"<html>") is None


def test_client_error_keeps_openai_fields() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "Missing",
                "type": "invalid_request_error",
                "param": "tools[0].name",
                "code": "missing_required_parameter",
            }
        }
    ).encode()
    error = client_error(400, body)
    assert (error.status, error.param, error.code) == (
        400,
        "tools[0].name",
        "missing_required_parameter",
    )
    assert client_error(400, b'{"detail":"Unsupported parameter: temperature"}').message == (
        "Unsupported parameter: temperature"
    )


def limit_body(resets_at: int) -> bytes:
    return json.dumps(
        {
            "error": {
                "type": "usage_limit_reached",
                "message": "The usage limit has been reached",
                "plan_type": "plus",
                "resets_at": resets_at,
            }
        }
    ).encode()


def test_every_account_limited_reports_the_earliest_reset() -> None:
    failures = [
        Failure("a", 429, "HTTP 429", limit_body(2_000)),
        Failure("b", 429, "HTTP 429", limit_body(1_500)),
    ]
    error = exhausted(failures, now=1_000)
    assert error.status == 429 and error.code == "usage_limit_reached"
    assert error.body()["error"]["resets_at"] == 1_500
    assert error.body()["error"]["plan_type"] == "plus"
    assert error.headers["retry-after"] == "500"


def test_transport_failures_map_to_502_and_504() -> None:
    assert exhausted([Failure("a", None, "ConnectError: refused")]).status == 502
    assert exhausted([Failure("a", None, "the connection timed out")]).status == 504


def test_html_403_is_explained() -> None:
    error = exhausted([Failure("a", 403, "HTTP 403", b"<html>challenge</html>")])
    assert error.status == 502 and "Cloudflare" in error.message


def test_overloaded_503_keeps_its_code() -> None:
    body = b'{"error":{"code":"server_is_overloaded","message":"busy"}}'
    error = exhausted([Failure("a", 503, "HTTP 503", body)])
    assert (error.status, error.code) == (503, "server_is_overloaded")


def test_no_capacity_reasons() -> None:
    now = 1_000.0
    assert no_capacity([], [], now).code == "no_account"
    cooling = make_account("a", cooldown_until=now + 90, cooldown_reason="usage_limit")
    limited = no_capacity([cooling, make_account("b", paused=True)], [], now)
    assert (limited.status, limited.code) == (429, "usage_limit_reached")
    assert limited.body()["error"]["resets_at"] == now + 90
    rate = no_capacity(
        [make_account("a", cooldown_until=now + 20, cooldown_reason="rate_limited")], [], now
    )
    assert (rate.status, rate.headers["retry-after"]) == (429, "20")
    paused = no_capacity([make_account("a", paused=True)], [], now)
    assert (paused.status, paused.code) == (503, "accounts_paused")
    relogin = no_capacity([make_account("a", status=AccountStatus.RELOGIN_REQUIRED)], [], now)
    assert relogin.code == "account_relogin_required"
    free = no_capacity([make_account("a", plan="free")], [], now, needs_paid=True)
    assert (free.status, free.code) == (403, "paid_plan_required")
    upstream = no_capacity([make_account("a")], [Failure("a", 500, "HTTP 500", b"{}")], now)
    assert upstream.code == "upstream_error"
