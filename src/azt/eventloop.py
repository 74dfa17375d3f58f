"""The event loop azt's long-running commands serve on."""

import asyncio
from collections.abc import Coroutine
from typing import Any


def run[T](main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, on uvloop where it is installed (Linux and macOS).

    Every request crosses two HTTP hops inside the gateway, so the loop's own cost counts:
    uvloop takes about a fifth off the gateway's CPU time per request (see
    docs/performance.md). Elsewhere the standard loop serves the same way.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return asyncio.run(main, loop_factory=uvloop.new_event_loop)
