"""Fixtures for CLI tests: a private AZT_HOME, and the simulator in this loop or in a thread."""

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from azt.config import Settings
from azt.loopback import LoopbackServer


@pytest.fixture(autouse=True)
def azt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every CLI test gets its own state directory."""
    home = tmp_path / "azt-home"
    monkeypatch.setenv("AZT_HOME", str(home))
    return home


@dataclass
class Sim:
    state: Any  # azt.sim.state.SimState
    settings: Settings
    url: str


def _settings(url: str) -> Settings:
    return Settings(
        auth_base_url=url,
        codex_base_url=url + "/backend-api/codex",
        chatgpt_base_url=url + "/backend-api",
    )


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """The simulator on a loopback port in the test's own event loop."""
    from azt.sim.app import create_app
    from azt.sim.state import SimState

    state = SimState()
    async with LoopbackServer(create_app(state)) as server:
        yield Sim(state, _settings(server.url), server.url)


@pytest.fixture
def threaded_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sim]:
    """The simulator in a thread of its own, for commands that run their own event loop.

    `AZT_AUTH_BASE_URL` points the CLI's settings at it.
    """
    from azt.sim.app import create_app
    from azt.sim.state import SimState

    state = SimState()
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
    monkeypatch.setenv("AZT_AUTH_BASE_URL", box["url"])
    yield Sim(state, _settings(box["url"]), box["url"])
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join(10)
