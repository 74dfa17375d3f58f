"""The simulator on a loopback port, settings pointing azt at it, and a hold on its waits."""

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from azt.config import Settings
from azt.loopback import LoopbackServer
from azt.sim.app import create_app
from azt.sim.state import SimState


@dataclass
class Sim:
    state: SimState
    settings: Settings
    url: str


def settings_for(sim_url: str, **overrides: Any) -> Settings:
    """Settings with every upstream base URL on the simulator and listeners on free ports."""
    return Settings(
        port=0,
        proxy_port=0,
        codex_base_url=f"{sim_url}/backend-api/codex",
        chatgpt_base_url=f"{sim_url}/backend-api",
        auth_base_url=sim_url,
        **overrides,
    )


@asynccontextmanager
async def running_sim(*, event_delay: float = 0.0, **settings: Any) -> AsyncIterator[Sim]:
    """The simulator on a loopback port in the running event loop."""
    state = SimState(event_delay=event_delay)
    async with LoopbackServer(create_app(state)) as server:
        yield Sim(state, settings_for(server.url, **settings), server.url)


@contextmanager
def sim_in_thread(*, event_delay: float = 0.0, **settings: Any) -> Iterator[Sim]:
    """The simulator on a loopback port, in a thread with an event loop of its own.

    For code under test that runs its own event loop (a CLI command).
    """
    state = SimState(event_delay=event_delay)
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        box["stop"] = asyncio.Event()
        async with LoopbackServer(create_app(state)) as server:
            box["url"] = server.url
            box["loop"] = asyncio.get_running_loop()
            ready.set()
            await box["stop"].wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the simulator did not start"
    try:
        yield Sim(state, settings_for(box["url"], **settings), box["url"])
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


class Hold:
    """Stands in for `SimState.sleep`: holds the simulator's waits until `release()`.

    While `when()` is false the simulator waits as usual; once it is true, each wait (the
    pause before the next event, slow headers, the refresh delay) blocks until released, and
    `holding` is set. `cut` is set when a held wait is cancelled: the simulator's client went
    away (the server cancels a streaming reply whose connection closed).
    """

    def __init__(self, when: Callable[[], bool] = lambda: True) -> None:
        self.when = when
        self.slept: list[float] = []  # every wait the simulator asked for, in seconds
        self.holding = asyncio.Event()
        self.cut = asyncio.Event()
        self._released = asyncio.Event()

    @classmethod
    def on(cls, state: SimState, when: Callable[[], bool] = lambda: True) -> "Hold":
        hold = cls(when)
        state.sleep = hold.sleep
        return hold

    @property
    def released(self) -> bool:
        return self._released.is_set()

    def release(self) -> None:
        self._released.set()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.released or not self.when():
            await asyncio.sleep(seconds)
            return
        self.holding.set()
        try:
            await self._released.wait()
        except asyncio.CancelledError:
            self.cut.set()
            raise


def after_event(state: SimState, kind: str) -> Callable[[], bool]:
    """A `Hold` condition: true once the simulator has sent an event of type `kind`."""
    return lambda: any(produced == kind for _, produced, _ in state.produced)
