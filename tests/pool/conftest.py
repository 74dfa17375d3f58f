"""Fixtures for the pool tests: hand-made JWTs, a store on disk, and the simulator."""

import base64
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from azt.config import Settings
from azt.loopback import LoopbackServer
from azt.store.accounts import AccountStore
from azt.store.db import open_database
from azt.store.worker import StoreWorker

AUTH = "https://api.openai.com/auth"
PROFILE = "https://api.openai.com/profile"


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT: azt never verifies signatures, it only reads claims."""
    return f"{_b64({'alg': 'none'})}.{_b64(claims)}.sig"


@pytest.fixture
def make_jwt() -> Callable[[dict[str, Any]], str]:
    return jwt


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = open_database(tmp_path / "azt.db")
    yield conn
    conn.close()


@pytest.fixture
def store(db: sqlite3.Connection) -> AccountStore:
    return AccountStore(db)


@pytest.fixture
def worker() -> Iterator[StoreWorker]:
    w = StoreWorker()
    yield w
    w.close()


@dataclass
class Sim:
    state: Any  # azt.sim.state.SimState
    settings: Settings
    url: str


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """The simulator on a loopback port, with settings pointing every base URL at it."""
    from azt.sim.app import create_app
    from azt.sim.state import SimState

    state = SimState()
    async with LoopbackServer(create_app(state)) as server:
        settings = Settings(
            auth_base_url=server.url,
            codex_base_url=server.url + "/backend-api/codex",
            chatgpt_base_url=server.url + "/backend-api",
        )
        yield Sim(state, settings, server.url)
