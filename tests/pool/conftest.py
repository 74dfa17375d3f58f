"""Fixtures for the pool tests: hand-made JWTs and a store on disk (`sim` is shared)."""

import base64
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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
