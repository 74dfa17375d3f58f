"""The account store: upsert and default, lookup, removal, token saves and status marks."""

import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from azt.pool.accounts import Account, AccountStatus, account_key
from azt.store.accounts import AccountStore
from azt.store.db import open_database


def make_account(name: str, *, created_at: int = 1000, expires: int = 5000) -> Account:
    return Account(
        key=account_key(f"acct-{name}", f"user-{name}"),
        email=f"{name}@example.com",
        plan="plus",
        chatgpt_account_id=f"acct-{name}",
        chatgpt_user_id=f"user-{name}",
        id_token=f"id-{name}",
        access_token=f"at-{name}",
        refresh_token=f"rt-{name}",
        access_expires_at=expires,
        last_refresh=created_at,
        created_at=created_at,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "azt.db"


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(db_path)
    yield connection
    connection.close()


@pytest.fixture
def store(conn: sqlite3.Connection) -> AccountStore:
    return AccountStore(conn)


def test_database_file_is_owner_only(db_path: Path, store: AccountStore) -> None:
    """The database holds tokens, so it is created mode 0600 (and so are its WAL files)."""
    store.upsert(make_account("a"))
    for path in db_path.parent.glob("azt.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_first_account_becomes_default(store: AccountStore) -> None:
    """The first upserted account is the default; later ones are not."""
    first = store.upsert(make_account("a", created_at=1))
    second = store.upsert(make_account("b", created_at=2))
    assert first.is_default and not second.is_default
    assert store.default() == first
    assert [a.key for a in store.list()] == [first.key, second.key]
    assert store.count() == 2


def test_upsert_same_key_updates_instead_of_duplicating(store: AccountStore) -> None:
    """Upserting an existing key replaces tokens and identity, keeping one row and the default."""
    store.upsert(make_account("a"))
    renewed = replace(make_account("a"), email="new@example.com", refresh_token="rt-2")
    stored = store.upsert(renewed)
    assert store.count() == 1
    assert (stored.email, stored.refresh_token, stored.is_default) == (
        "new@example.com",
        "rt-2",
        True,
    )


def test_upsert_clears_relogin_mark(store: AccountStore) -> None:
    """A new login for a dead account makes it usable again."""
    account = store.upsert(make_account("a"))
    store.mark_status(account.key, AccountStatus.RELOGIN_REQUIRED, "dead")
    stored = store.upsert(make_account("a"))
    assert (stored.status, stored.status_reason) == (AccountStatus.OK, None)


def test_find_by_position_email_and_key(store: AccountStore) -> None:
    """find() accepts a 1-based position, an email in any case, or a key."""
    a = store.upsert(make_account("a", created_at=1))
    b = store.upsert(make_account("b", created_at=2))
    assert store.find("2") == b
    assert store.find("A@EXAMPLE.COM") == a
    assert store.find(b.key) == b
    assert store.find("3") is None
    assert store.find("nobody@example.com") is None


def test_set_default_moves_the_mark(store: AccountStore) -> None:
    """Exactly one account is the default after set_default; unknown keys raise KeyError."""
    store.upsert(make_account("a", created_at=1))
    b = store.upsert(make_account("b", created_at=2))
    store.set_default(b.key)
    assert [a.is_default for a in store.list()] == [True, False]
    assert store.default() == replace(b, is_default=True)
    with pytest.raises(KeyError):
        store.set_default("missing/-")


def test_removing_the_default_promotes_the_oldest(store: AccountStore) -> None:
    """Removing the default account makes the oldest remaining one the default."""
    a = store.upsert(make_account("a", created_at=1))
    b = store.upsert(make_account("b", created_at=2))
    c = store.upsert(make_account("c", created_at=3))
    store.set_default(c.key)
    assert store.remove(c.key)
    default = store.default()
    assert default is not None and default.key == a.key
    assert not store.remove(c.key)
    assert {x.key for x in store.list()} == {a.key, b.key}


def test_save_tokens_persists_a_rotation(store: AccountStore, db_path: Path) -> None:
    """save_tokens writes the whole token set, visible from a second connection at once."""
    account = store.upsert(make_account("a"))
    store.mark_status(account.key, AccountStatus.RELOGIN_REQUIRED, "dead")
    rotated = replace(
        account, access_token="at-2", refresh_token="rt-2", access_expires_at=9000, last_refresh=8
    )
    store.save_tokens(rotated)
    other = open_database(db_path)
    try:
        seen = AccountStore(other).get(account.key)
    finally:
        other.close()
    assert seen is not None
    assert (seen.access_token, seen.refresh_token, seen.access_expires_at) == ("at-2", "rt-2", 9000)
    assert seen.status is AccountStatus.OK


def test_mark_status_records_reason(store: AccountStore) -> None:
    """mark_status stores the status and a printable reason."""
    account = store.upsert(make_account("a"))
    store.mark_status(account.key, AccountStatus.RELOGIN_REQUIRED, "run `azt login` again")
    stored = store.get(account.key)
    assert stored is not None
    assert (stored.status, stored.status_reason) == (
        AccountStatus.RELOGIN_REQUIRED,
        "run `azt login` again",
    )
