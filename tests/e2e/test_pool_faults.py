"""The fault matrix: each simulator fault on the first account, and what follows.

For every fault: which account served, what the client got, the first account's cooldown
afterwards, and that nothing hangs.
"""

import asyncio
import time
from dataclasses import dataclass

import pytest

from azt.pool.accounts import Account
from azt.sim.faults import Fault
from support.rig import Rig
from support.sse import events_of

BODY = {"model": "gpt-5.4", "input": "Reply with PONG", "store": False, "stream": True}


@dataclass(frozen=True)
class Case:
    fault: Fault
    served_by: str  # "first" or "second"
    client_sees: str  # the last event type, or "status NNN"
    cooldown: str | None  # the first account's cooldown reason afterwards


MATRIX = {
    "usage_limit": Case(Fault("usage_limit"), "second", "response.completed", "usage_limit"),
    "usage_not_included": Case(
        Fault("usage_not_included"), "second", "response.completed", "usage_not_included"
    ),
    "rate_limited": Case(
        Fault("rate_limited", retry_after=20), "second", "response.completed", "rate_limited"
    ),
    "unauthorized": Case(Fault("unauthorized"), "second", "response.completed", "unauthorized"),
    "server_error_500": Case(Fault("server_error"), "second", "response.completed", None),
    "server_error_502": Case(
        Fault("server_error", status=502), "second", "response.completed", None
    ),
    "overloaded": Case(Fault("overloaded"), "second", "response.completed", None),
    "html_403": Case(Fault("html_403"), "second", "response.completed", None),
    "overloaded_in_stream": Case(
        Fault("overloaded_in_stream"), "second", "response.completed", None
    ),
    "slow_headers": Case(Fault("slow_headers", seconds=3), "second", "response.completed", None),
    "stall_before_content": Case(Fault("stall", seconds=3), "second", "response.completed", None),
    "drop_mid_stream": Case(
        Fault("drop_mid_stream", after_events=5), "first", "response.failed", None
    ),
    "failed_in_stream": Case(Fault("failed_in_stream"), "first", "response.failed", None),
    "incomplete": Case(Fault("incomplete"), "first", "response.incomplete", None),
    "error_event": Case(Fault("error_event"), "first", "response.failed", None),
    "giant_delta": Case(Fault("giant_delta", size=100_000), "first", "response.completed", None),
    "text_only_in_done": Case(Fault("text_only_in_done"), "first", "response.completed", None),
    "keepalive": Case(Fault("keepalive"), "first", "response.completed", None),
    "no_content_type": Case(Fault("no_content_type"), "first", "response.completed", None),
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
    started = time.monotonic()
    response = await asyncio.wait_for(rig.client.post("/codex/v1/responses", json=BODY), 15)
    assert time.monotonic() - started < 10
    served = {first.chatgpt_account_id: "first", second.chatgpt_account_id: "second"}
    responses = [r for r in rig.sim.requests if r.path.endswith("/responses")]
    assert served[responses[-1].account_id] == case.served_by
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
    "gateway_settings", [{"pool_deadline_seconds": 1.0, "upstream_idle_timeout": 30}]
)
async def test_attempts_share_one_deadline(rig: Rig) -> None:
    for index in range(3):
        account = rig.add_account(f"a{index}@example.com")
        rig.sim.set_fault(account.chatgpt_account_id, Fault("slow_headers", seconds=5))
    started = time.monotonic()
    response = await rig.client.post("/codex/v1/responses", json=BODY)
    assert time.monotonic() - started < 3
    assert response.status_code in (502, 504)


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
