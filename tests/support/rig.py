"""The gateway and simulator wired together for end-to-end tests."""

from collections.abc import Callable
from dataclasses import dataclass

import httpx

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
