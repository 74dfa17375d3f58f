"""The fault matrix: each simulator fault on the first account, and what follows.

For every fault: which accounts the backend saw, in order (the last one served), what the
client got, and the first account's cooldown afterwards.
"""

import time
from dataclasses import dataclass

import pytest

from azt.pool.accounts import Account
from azt.sim.faults import Fault
from support.rig import Rig
from support.sim import Hold
from support.sse import events_of

BODY = {"model": "gpt-5.4", "input": "Reply with PONG", "store": False, "stream": True}


@dataclass(frozen=True)
class Case:
    fault: Fault
    attempts: tuple[str, ...]  # the account of every backend request, "first" or "second"
    client_sees: str  # the last event type, or "status NNN"
    cooldown: str | None  # the first account's cooldown reason afterwards


FIRST_ONLY = ("first",)
FAILED_OVER = ("first", "second")
FIRST_AGAIN_THEN_SECOND = ("first", "first", "second")  # once more after a token refresh

MATRIX = {
    "usage_limit": Case(Fault("usage_limit"), FAILED_OVER, "response.completed", "usage_limit"),
    "usage_not_included": Case(
        Fault("usage_not_included"), FAILED_OVER, "response.completed", "usage_not_included"
    ),
    "rate_limited": Case(
        Fault("rate_limited", retry_after=20), FAILED_OVER, "response.completed", "rate_limited"
    ),
    "unauthorized": Case(
        Fault("unauthorized"), FIRST_AGAIN_THEN_SECOND, "response.completed", "unauthorized"
    ),
    "server_error_500": Case(Fault("server_error"), FAILED_OVER, "response.completed", None),
    "server_error_502": Case(
        Fault("server_error", status=502), FAILED_OVER, "response.completed", None
    ),
    "overloaded": Case(Fault("overloaded"), FAILED_OVER, "response.completed", None),
    "html_403": Case(Fault("html_403"), FAILED_OVER, "response.completed", None),
    "overloaded_in_stream": Case(
        Fault("overloaded_in_stream"), FAILED_OVER, "response.completed", None
    ),
    "slow_headers": Case(Fault("slow_headers", seconds=3), FAILED_OVER, "response.completed", None),
    "stall_before_content": Case(
        Fault("stall", seconds=3), FAILED_OVER, "response.completed", None
    ),
    "drop_mid_stream": Case(
        Fault("drop_mid_stream", after_events=5), FIRST_ONLY, "response.failed", None
    ),
    "failed_in_stream": Case(Fault("failed_in_stream"), FIRST_ONLY, "response.failed", None),
    "incomplete": Case(Fault("incomplete"), FIRST_ONLY, "response.incomplete", None),
    "error_event": Case(Fault("error_event"), FIRST_ONLY, "response.failed", None),
    "giant_delta": Case(Fault("giant_delta", size=100_000), FIRST_ONLY, "response.completed", None),
    "text_only_in_done": Case(Fault("text_only_in_done"), FIRST_ONLY, "response.completed", None),
    "keepalive": Case(Fault("keepalive"), FIRST_ONLY, "response.completed", None),
    "no_content_type": Case(Fault("no_content_type"), FIRST_ONLY, "response.completed", None),
}


async def stored(rig: Rig, key: str) -> Account:
    await rig.runtime.book.flush()  # cooldowns are written off the event loop
    account = rig.runtime.accounts.get(key)
    assert account is not None
    return account


@pytest.mark.parametrize("gateway_settings", [{"upstream_idle_timeout": 0.5}])
@pytest.mark.parametrize("name", list(MATRIX))
async def test_fault_matrix(rig: Rig, name: str) -> None:
    case = MATRIX[name]
    first = rig.add_account("first@example.com")
    second = rig.add_account("second@example.com")
    rig.sim.set_fault(first.chatgpt_account_id, case.fault)
    response = await rig.client.post("/codex/v1/responses", json=BODY)
    served = {first.chatgpt_account_id: "first", second.chatgpt_account_id: "second"}
    assert tuple(served[r.account_id] for r in rig.sim.requests) == case.attempts
    assert response.status_code == 200
    events = events_of(response.content)
    last = events[-1]["type"]
    # An upstream `error` event is closed with response.failed by the pool.
    assert last == case.client_sees or (case.client_sees, last) == ("response.failed", "error")
    assert (await stored(rig, first.key)).cooldown_reason == case.cooldown
    assert (await stored(rig, second.key)).cooldown_until is None


async def test_a_cooling_account_is_skipped_without_a_request(rig: Rig) -> None:
    first = rig.add_account("first@example.com")
    second = rig.add_account("second@example.com")
    rig.sim.set_fault(first.chatgpt_account_id, Fault("usage_limit", resets_in_seconds=600))
    await rig.client.post("/codex/v1/responses", json=BODY)
    rig.sim.clear_faults()
    before = len(rig.sim.requests)
    response = await rig.client.post("/codex/v1/responses", json=BODY)
    assert response.status_code == 200
    later = rig.sim.requests[before:]
    assert [r.account_id for r in later] == [second.chatgpt_account_id]
    cooled = await stored(rig, first.key)
    assert abs(cooled.cooldown_until - (time.time() + 600)) < 5


async def test_every_account_limited_then_429_without_touching_the_backend(rig: Rig) -> None:
    for email, seconds in (("a@example.com", 900), ("b@example.com", 300)):
        account = rig.add_account(email)
        rig.sim.set_fault(
            account.chatgpt_account_id, Fault("usage_limit", resets_in_seconds=seconds)
        )
    first = await rig.client.post("/codex/v1/responses", json=BODY)
    assert first.status_code == 429
    before = len(rig.sim.requests)
    again = await rig.client.post("/codex/v1/responses", json=BODY)
    assert len(rig.sim.requests) == before  # known limits: no request burned upstream
    error = again.json()["error"]
    assert (again.status_code, error["code"]) == (429, "usage_limit_reached")
    assert abs(error["resets_at"] - (time.time() + 300)) < 5
    assert 290 <= int(again.headers["retry-after"]) <= 300


@pytest.mark.parametrize("gateway_settings", [{"pool_max_attempts": 2}])
async def test_attempts_are_bounded(rig: Rig) -> None:
    for index in range(4):
        account = rig.add_account(f"a{index}@example.com")
        rig.sim.set_fault(account.chatgpt_account_id, Fault("server_error"))
    response = await rig.client.post("/codex/v1/responses", json=BODY)
    assert response.status_code == 502
    assert len(rig.sim.requests) == 2


@pytest.mark.parametrize(
    "gateway_settings", [{"pool_deadline_seconds": 2.0, "upstream_idle_timeout": 30}]
)
async def test_attempts_share_one_deadline(rig: Rig) -> None:
    accounts = [rig.add_account(f"a{index}@example.com") for index in range(3)]
    for account in accounts:
        rig.sim.set_fault(account.chatgpt_account_id, Fault("slow_headers", seconds=1))
    # The first attempt never answers, so it uses up the whole deadline. The others answer
    # after a second: in time for a deadline of their own, too late for what is left.
    hold = Hold.on(rig.sim, when=lambda: len(hold.slept) == 1)
    try:
        response = await rig.client.post("/codex/v1/responses", json=BODY)
    finally:
        hold.release()
    assert response.status_code in (502, 504)
    tried = [r.account_id for r in rig.sim.requests]
    assert sorted(tried) == sorted(a.chatgpt_account_id for a in accounts)


async def test_a_stream_cut_after_content_is_recorded(rig: Rig, caplog) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("drop_mid_stream", after_events=5))
    with caplog.at_level("WARNING", logger="azt.pool.server"):
        response = await rig.client.post("/codex/v1/responses", json=BODY)
    assert events_of(response.content)[-1]["type"] == "response.failed"
    assert any(
        "ended early: upstream_stream_truncated" in r.getMessage()
        and account.label in r.getMessage()
        for r in caplog.records
    )
