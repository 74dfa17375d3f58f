"""Watching the pool's slots from a test."""

import asyncio

from azt.pool.slots import Slots


def watch_attempts(slots: Slots) -> asyncio.Queue[str | None]:
    """What every look for a free slot found: the account key it took, or None (all full).

    `Slots.take` does not yield between a look that finds nothing and either waiting or
    refusing, so once the test has read a None that request is queued (or was refused).
    """
    attempts: asyncio.Queue[str | None] = asyncio.Queue()
    try_take = slots.try_take

    def try_take_and_tell(candidates):  # type: ignore[no-untyped-def]
        account = try_take(candidates)
        attempts.put_nowait(None if account is None else account.key)
        return account

    slots.try_take = try_take_and_tell  # type: ignore[method-assign]
    return attempts
