import asyncio
import time

import pytest

from azt.errors import ApiError
from azt.pool.slots import Slots
from support.accounts import make_account
from support.slots import watch_attempts

A, B = make_account("a"), make_account("b")


async def test_takes_the_first_candidate_with_room() -> None:
    slots = Slots(per_account=1, queue_limit=4)
    assert (await slots.take([A, B], time.monotonic() + 1)).key == "a"
    assert (await slots.take([A, B], time.monotonic() + 1)).key == "b"
    assert slots.snapshot() == {"a": 1, "b": 1}


async def test_waits_for_a_free_slot() -> None:
    slots = Slots(per_account=1, queue_limit=4)
    attempts = watch_attempts(slots)
    await slots.take([A], time.monotonic() + 1)
    assert await attempts.get() == "a"
    waiter = asyncio.ensure_future(slots.take([A], time.monotonic() + 5))
    assert await attempts.get() is None  # every slot taken: it waits
    assert not waiter.done() and slots.waiting == 1
    slots.release("a")
    assert (await waiter).key == "a"
    assert slots.waiting == 0


async def test_a_full_queue_is_refused_at_once_as_busy() -> None:
    slots = Slots(per_account=1, queue_limit=1)
    attempts = watch_attempts(slots)
    await slots.take([A], time.monotonic() + 1)
    waiter = asyncio.ensure_future(slots.take([A], time.monotonic() + 5))
    assert [await attempts.get(), await attempts.get()] == ["a", None]
    assert slots.waiting == 1  # the queue is full
    refused = slots.take([A], time.monotonic() + 5)
    with pytest.raises(ApiError) as info:
        # At once: the refusal comes on the coroutine's first step; had it waited for the
        # slot or the deadline, this step would suspend instead of raising.
        refused.send(None)
    assert (info.value.status, info.value.code) == (429, "pool_busy")
    assert "the wait queue is full" in info.value.message
    assert info.value.headers["retry-after"] == "1"
    waiter.cancel()


async def test_the_deadline_bounds_the_wait() -> None:
    slots = Slots(per_account=1, queue_limit=4)
    attempts = watch_attempts(slots)
    await slots.take([A], time.monotonic() + 1)
    waiter = asyncio.ensure_future(slots.take([A], time.monotonic() + 0.2))
    assert [await attempts.get(), await attempts.get()] == ["a", None]
    assert slots.waiting == 1  # it queued, and nobody frees the slot
    with pytest.raises(ApiError, match="no slot freed in time"):
        await waiter
    assert slots.waiting == 0


def test_release_never_goes_below_zero() -> None:
    slots = Slots(per_account=1, queue_limit=1)
    slots.release("a")
    assert slots.in_flight("a") == 0
