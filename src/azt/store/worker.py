"""Run blocking store calls off the event loop, one at a time, on a single thread."""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class StoreWorker:
    """Serialises database work on one thread so the gateway's event loop never waits on disk."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="azt-store")

    async def run[**P, T](self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
