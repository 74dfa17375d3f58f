"""The gateway and simulator wired together for end-to-end tests."""

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from azt.config import Settings
from azt.gateway import Gateway, Listeners
from azt.pool.accounts import Account
from azt.pool.runtime import PoolRuntime
from azt.sim.state import SimState


@dataclass
class Rig:
    sim: SimState
    sim_url: str
    runtime: PoolRuntime
    listeners: Listeners
    client: httpx.AsyncClient
    add_account: Callable[..., Account]
    gateway: Gateway | None = None

    @property
    def base_url(self) -> str:
        return self.listeners.base_url


def settings_for(sim_url: str, **overrides: object) -> Settings:
    return Settings(
        port=0,
        proxy_port=0,
        codex_base_url=f"{sim_url}/backend-api/codex",
        chatgpt_base_url=f"{sim_url}/backend-api",
        auth_base_url=sim_url,
        **overrides,
    )
