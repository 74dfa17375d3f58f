"""Concurrency caps, the wait queue, refresh under load, and state across a restart."""

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from azt.gateway import Gateway
from azt.pool.runtime import PoolRuntime
from azt.sim.faults import Fault
from support.rig import Rig
from support.sim import Hold, settings_for
from support.slots import watch_attempts
from support.sse import events_of

BODY = {"model": "gpt-5.4", "input": "Reply with one two three", "store": False, "stream": True}


def watch_peaks(rig: Rig) -> Counter[str]:
    """Record the most requests each account had in flight at once."""
    slots = rig.runtime.slots
    peaks: Counter[str] = Counter()
    take = slots.take

    async def take_and_note(candidates, deadline):  # type: ignore[no-untyped-def]
        account = await take(candidates, deadline)
        peaks[account.key] = max(peaks[account.key], slots.in_flight(account.key))
        return account

    slots.take = take_and_note  # type: ignore[method-assign]
    return peaks


@pytest.mark.parametrize("gateway_settings", [{"account_max_concurrency": 2}])
async def test_parallel_streams_respect_the_per_account_cap(rig: Rig) -> None:
    accounts = [rig.add_account(f"a{i}@example.com") for i in range(3)]
    rig.sim.event_delay = 0.02
    peaks = watch_peaks(rig)
    responses = await asyncio.gather(
        *(rig.client.post("/codex/v1/responses", json=BODY) for _ in range(15))
    )
    assert [r.status_code for r in responses] == [200] * 15
    assert all(events_of(r.content)[-1]["type"] == "response.completed" for r in responses)
    assert set(peaks) == {a.key for a in accounts}
    assert max(peaks.values()) == 2
    assert rig.runtime.slots.snapshot() == {}  # every slot was given back


@pytest.mark.parametrize("gateway_settings", [{"account_max_concurrency": 1, "pool_queue_max": 1}])
async def test_a_full_queue_answers_busy_not_exhausted(rig: Rig) -> None:
    account = rig.add_account()
    hold = Hold.on(rig.sim)  # the upstream stream waits until released
    attempts = watch_attempts(rig.runtime.slots)

    async def post() -> httpx.Response:
        return await rig.client.post("/codex/v1/responses", json=BODY)

    serving = asyncio.ensure_future(post())
    assert await attempts.get() == account.key  # it holds the only slot
    waiting = asyncio.ensure_future(post())
    assert await attempts.get() is None
    assert rig.runtime.slots.waiting == 1  # it fills the queue
    refused = await post()
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "pool_busy"
    assert refused.headers["retry-after"] == "1"
    hold.release()
    assert (await serving).status_code == 200
    assert (await waiting).status_code == 200  # it waited for the slot, then was served


async def test_a_burst_on_expired_tokens_refreshes_each_account_once(rig: Rig) -> None:
    for index in range(3):
        rig.add_account(f"a{index}@example.com", access_ttl=-10)
    rig.sim.refresh_delay = 0.2
    responses = await asyncio.gather(
        *(rig.client.post("/codex/v1/responses", json=BODY) for _ in range(18))
    )
    assert [r.status_code for r in responses] == [200] * 18
    assert rig.sim.refresh_calls == 3


@pytest.mark.parametrize("gateway_settings", [{"pool_strategy": "round-robin"}])
async def test_affinity_keeps_a_conversation_on_one_account(rig: Rig) -> None:
    for index in range(3):
        rig.add_account(f"a{index}@example.com")
    for _ in range(3):  # without a conversation key, round-robin takes turns
        await rig.client.post("/codex/v1/responses", json=BODY)
    assert len({r.account_id for r in rig.sim.requests}) == 3
    before = len(rig.sim.requests)
    body = {**BODY, "prompt_cache_key": "conversation-1"}
    for _ in range(4):
        await rig.client.post("/codex/v1/responses", json=body)
    assert len({r.account_id for r in rig.sim.requests[before:]}) == 1


async def test_affinity_yields_when_its_account_is_limited(rig: Rig) -> None:
    accounts = [rig.add_account(f"a{index}@example.com") for index in range(2)]
    body = {**BODY, "prompt_cache_key": "conversation-2"}
    await rig.client.post("/codex/v1/responses", json=body)
    sticky = rig.sim.requests[-1].account_id
    rig.sim.set_fault(sticky, Fault("usage_limit"))
    response = await rig.client.post("/codex/v1/responses", json=body)
    assert response.status_code == 200
    other = next(a.chatgpt_account_id for a in accounts if a.chatgpt_account_id != sticky)
    assert rig.sim.requests[-1].account_id == other


@pytest.mark.parametrize("gateway_settings", [{"pool_strategy": "round-robin"}])
async def test_turn_state_pins_the_rest_of_the_turn(rig: Rig) -> None:
    for index in range(3):
        rig.add_account(f"a{index}@example.com")
    first = await rig.client.post("/codex/v1/responses", json=BODY)
    state = first.headers["x-codex-turn-state"]
    owner = rig.sim.requests[-1].account_id
    for _ in range(3):
        await rig.client.post(
            "/codex/v1/responses", json=BODY, headers={"x-codex-turn-state": state}
        )
        assert rig.sim.requests[-1].account_id == owner


async def test_cooldowns_and_quota_survive_a_restart(rig: Rig, tmp_path: Path) -> None:
    limited = rig.add_account("limited@example.com")
    healthy = rig.add_account("healthy@example.com")
    rig.sim.set_fault(limited.chatgpt_account_id, Fault("usage_limit", resets_in_seconds=600))
    assert (await rig.client.post("/codex/v1/responses", json=BODY)).status_code == 200
    await rig.runtime.book.flush()  # the cooldown and quota are written off the loop
    database = rig.runtime.database
    rig.sim.clear_faults()

    # A second gateway on the same database, as after `azt start` again.
    runtime = PoolRuntime(settings_for(rig.sim_url, proxy=False), database)
    gateway = Gateway(runtime, confdir=str(tmp_path / "certs-2"))
    listeners = await gateway.start()
    try:
        restored = runtime.accounts.get(limited.key)
        assert restored is not None and restored.cooldown_reason == "usage_limit"
        assert restored.cooldown_until and restored.cooldown_until > time.time() + 500
        assert restored.quota and restored.quota["primary"]["used_percent"] == 100
        assert runtime.accounts.get(healthy.key).quota is not None  # type: ignore[union-attr]
        before = len(rig.sim.requests)
        async with httpx.AsyncClient(base_url=listeners.base_url) as client:
            response = await client.post("/codex/v1/responses", json=BODY)
        assert response.status_code == 200
        served = [r.account_id for r in rig.sim.requests[before:]]
        assert served == [healthy.chatgpt_account_id]
    finally:
        await gateway.stop()
        await runtime.aclose()
