import asyncio
import time

import pytest

from azt.errors import ApiError
from azt.pool.slots import Slots
from support.accounts import make_account

A, B = make_account("a"), make_account("b")


async def test_takes_the_first_candidate_with_room() -> None:
    slots = Slots(per_account=1, queue_limit=4)
    assert (await slots.take([A, B], time.monotonic() + 1)).key == "a"
    assert (await slots.take([A, B], time.monotonic() + 1)).key == "b"
    assert slots.snapshot() == {"a": 1, "b": 1}


async def test_waits_for_a_free_slot() -> None:
    slots = Slots(per_account=1, queue_limit=4)
    await slots.take([A], time.monotonic() + 1)
    waiter = asyncio.ensure_future(slots.take([A], time.monotonic() + 5))
    await asyncio.sleep(0.05)
    assert not waiter.done() and slots.waiting == 1
    slots.release("a")
    assert (await asyncio.wait_for(waiter, 1)).key == "a"
    assert slots.waiting == 0


async def test_a_full_queue_is_refused_at_once_as_busy() -> None:
    slots = Slots(per_account=1, queue_limit=1)
    await slots.take([A], time.monotonic() + 1)
    waiter = asyncio.ensure_future(slots.take([A], time.monotonic() + 5))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(ApiError) as info:
        await slots.take([A], time.monotonic() + 5)
    assert time.monotonic() - started < 0.1
    assert (info.value.status, info.value.code) == (429, "pool_busy")
    assert info.value.headers["retry-after"] == "1"
    waiter.cancel()


async def test_the_deadline_bounds_the_wait() -> None:
    slots = Slots(per_account=1, queue_limit=4)
    await slots.take([A], time.monotonic() + 1)
    started = time.monotonic()
    with pytest.raises(ApiError, match="busy"):
        await slots.take([A], time.monotonic() + 0.2)
    assert 0.15 < time.monotonic() - started < 1
    assert slots.waiting == 0


def test_release_never_goes_below_zero() -> None:
    slots = Slots(per_account=1, queue_limit=1)
    slots.release("a")
    assert slots.in_flight("a") == 0
