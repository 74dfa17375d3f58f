"""The gateway and the simulator in-process, on free loopback ports."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from azt.gateway import Gateway
from azt.loopback import LoopbackServer
from azt.pool.accounts import Account
from azt.pool.runtime import PoolRuntime
from azt.sim.app import create_app
from azt.sim.state import SimState
from support.rig import Rig, settings_for


@pytest.fixture
async def sim_server() -> AsyncIterator[tuple[SimState, str]]:
    state = SimState(event_delay=0.0)
    async with LoopbackServer(create_app(state)) as server:
        yield state, server.url


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mitmproxy CA for the whole run: generating a key per test is slow."""
    return tmp_path_factory.mktemp("certs")


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    """Override in a test module to change gateway settings."""
    return {}


@pytest.fixture
async def rig(
    sim_server: tuple[SimState, str],
    tmp_path: Path,
    gateway_settings: dict[str, object],
    certs_dir: Path,
    vocabulary: Path,
) -> AsyncIterator[Rig]:
    state, sim_url = sim_server
    overrides = {"tokenizer_file": str(vocabulary), **gateway_settings}
    runtime = PoolRuntime(settings_for(sim_url, **overrides), tmp_path / "azt.db")

    def add_account(
        email: str = "one@example.com", plan: str = "plus", access_ttl: int = 3600
    ) -> Account:
        return runtime.accounts.upsert(state.pool_account(email, plan, access_ttl))

    gateway = Gateway(runtime, confdir=str(certs_dir))
    listeners = await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=listeners.base_url, timeout=20) as client:
            yield Rig(state, sim_url, runtime, listeners, client, add_account, gateway)
    finally:
        await gateway.stop()
        await runtime.aclose()
