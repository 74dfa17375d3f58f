"""Background tasks that are never garbage-collected while they run."""

import asyncio
from collections.abc import Coroutine
from typing import Any

_running: set[asyncio.Task[Any]] = set()


def spawn[T](coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
    """Start `coro` as a named task and keep a reference until it finishes.

    The event loop holds tasks only weakly; a bare `asyncio.create_task` whose result is
    dropped can vanish mid-flight.
    """
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
