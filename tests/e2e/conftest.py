"""The gateway and the simulator in-process, on free loopback ports."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from azt.gateway import Gateway
from azt.pool.accounts import Account
from azt.pool.runtime import PoolRuntime
from support.rig import Rig
from support.sim import Sim, settings_for


@pytest.fixture
def sim_options() -> dict[str, object]:
    """The simulator streams without pauses unless a test sets `event_delay` itself."""
    return {"event_delay": 0.0}


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
    sim: Sim,
    tmp_path: Path,
    gateway_settings: dict[str, object],
    certs_dir: Path,
    vocabulary: Path,
) -> AsyncIterator[Rig]:
    overrides = {"tokenizer_file": str(vocabulary), **gateway_settings}
    runtime = PoolRuntime(settings_for(sim.url, **overrides), tmp_path / "azt.db")

    def add_account(
        email: str = "one@example.com", plan: str = "plus", access_ttl: int = 3600
    ) -> Account:
        return runtime.accounts.upsert(sim.state.pool_account(email, plan, access_ttl))

    gateway = Gateway(runtime, confdir=str(certs_dir))
    listeners = await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=listeners.base_url, timeout=20) as client:
            yield Rig(sim.state, sim.url, runtime, listeners, client, add_account, gateway)
    finally:
        await gateway.stop()
        await runtime.aclose()
