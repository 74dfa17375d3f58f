"""Per-account concurrency: at most N requests in flight per account, with a bounded queue.

A request takes a slot on the first candidate account that has one free; when every candidate
is full it waits, up to the shared deadline, for any slot to free. A full queue is refused at
once with a 429 that says "busy", which is not the same as "out of quota".
"""

import asyncio
import time
from collections import Counter
from collections.abc import Sequence

from azt.errors import ApiError
from azt.pool.accounts import Account


def busy_error(reason: str) -> ApiError:
    return ApiError(
        429,
        f"Every account is busy ({reason}); retry in a moment.",
        code="pool_busy",
        type="rate_limit_error",
        headers={"retry-after": "1"},
    )


class Slots:
    def __init__(self, per_account: int, queue_limit: int) -> None:
        self.per_account = per_account
        self.queue_limit = queue_limit
        self._in_flight: Counter[str] = Counter()
        self._waiting = 0
        self._freed = asyncio.Event()

    def in_flight(self, key: str) -> int:
        return self._in_flight[key]

    def snapshot(self) -> dict[str, int]:
        return {key: count for key, count in self._in_flight.items() if count}

    @property
    def waiting(self) -> int:
        return self._waiting

    def try_take(self, candidates: Sequence[Account]) -> Account | None:
        for account in candidates:
            if self._in_flight[account.key] < self.per_account:
                self._in_flight[account.key] += 1
                return account
        return None

    async def take(self, candidates: Sequence[Account], deadline: float) -> Account:
        """A slot on the first candidate with room, waiting until `deadline` (monotonic)."""
        taken = self.try_take(candidates)
        if taken is not None:
            return taken
        if self._waiting >= self.queue_limit:
            raise busy_error(f"the wait queue is full at {self.queue_limit}")
        self._waiting += 1
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise busy_error("no slot freed in time")
                freed = self._freed
                try:
                    await asyncio.wait_for(freed.wait(), remaining)
                except TimeoutError:
                    raise busy_error("no slot freed in time") from None
                taken = self.try_take(candidates)
                if taken is not None:
                    return taken
        finally:
            self._waiting -= 1

    def release(self, key: str) -> None:
        if self._in_flight[key] > 0:
            self._in_flight[key] -= 1
        # Wake every waiter; each re-checks its own candidates. A fresh event for the next round.
        freed, self._freed = self._freed, asyncio.Event()
        freed.set()
