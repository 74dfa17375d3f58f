"""Helpers shared by the CLI commands: opening state, printing JSON, failing cleanly."""

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from azt.config import database_path
from azt.store.accounts import AccountStore
from azt.store.catalog import CatalogStore
from azt.store.db import open_database

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4


@dataclass
class Stores:
    conn: sqlite3.Connection
    accounts: AccountStore
    catalog: CatalogStore


@contextmanager
def open_stores() -> Iterator[Stores]:
    conn = open_database(database_path())
    try:
        yield Stores(conn, AccountStore(conn), CatalogStore(conn))
    finally:
        conn.close()


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False))


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    click.secho(f"azt: {message}", fg="red", err=True)
    sys.exit(code)
