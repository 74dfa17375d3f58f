"""Accounts in SQLite. Every write is one transaction, so a crash never leaves half a token set."""

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from azt.pool.accounts import Account, AccountStatus

_COLUMNS = (
    "key, email, plan, chatgpt_account_id, chatgpt_user_id, id_token, access_token, "
    "refresh_token, access_expires_at, last_refresh, status, status_reason, is_default, "
    "created_at, paused, cooldown_until, cooldown_reason, quota, quota_captured_at"
)


def _account(row: sqlite3.Row) -> Account:
    return Account(
        key=row["key"],
        email=row["email"],
        plan=row["plan"],
        chatgpt_account_id=row["chatgpt_account_id"],
        chatgpt_user_id=row["chatgpt_user_id"],
        id_token=row["id_token"],
        access_token=row["access_token"],
        refresh_token=row["refresh_token"],
        access_expires_at=row["access_expires_at"],
        last_refresh=row["last_refresh"],
        status=AccountStatus(row["status"]),
        status_reason=row["status_reason"],
        is_default=bool(row["is_default"]),
        created_at=row["created_at"],
        paused=bool(row["paused"]),
        cooldown_until=row["cooldown_until"],
        cooldown_reason=row["cooldown_reason"],
        quota=json.loads(row["quota"]) if row["quota"] else None,
        quota_captured_at=row["quota_captured_at"],
    )


@dataclass(frozen=True)
class Listing:
    """Every account as one read saw it, with what tells a copy of it from a stale one."""

    accounts: list[Account]
    generation: int  # writes this store had committed before the read (see `generation`)
    data_version: int  # SQLite's `PRAGMA data_version`, read just before the accounts


class AccountStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._generation = 0
        # Writes commit on the store worker and, in tests and the CLI, on the caller's thread.
        self._generation_lock = threading.Lock()

    @property
    def generation(self) -> int:
        """How many writes this store has committed; moves after each write's COMMIT.

        A copy of the accounts read when the count was N holds every write up to N, so an
        in-memory view compares counts to know, without a query, whether it is stale.
        """
        return self._generation

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        with self._generation_lock:
            self._generation += 1

    def data_version(self) -> int:
        """SQLite's counter of commits by OTHER connections (the CLI, the records writer)."""
        version: int = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return version

    def listing(self) -> Listing:
        """`list()` with the generation and data version it reflects at least."""
        # Both counters are read first: whatever commits during the SELECT makes them move
        # again, so the copy reads as stale later rather than as fresher than it is.
        generation = self._generation
        data_version = self.data_version()
        return Listing(self.list(), generation, data_version)

    def list(self) -> list[Account]:
        """All accounts, the default one first, then oldest first."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM accounts ORDER BY is_default DESC, created_at, key"
        )
        return [_account(r) for r in rows]

    def count(self) -> int:
        count: int = self._conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
        return count

    def get(self, key: str) -> Account | None:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM accounts WHERE key = ?", (key,))
        found = row.fetchone()
        return _account(found) if found else None

    def find(self, ref: str) -> Account | None:
        """Look an account up by key, email (case-insensitive) or 1-based position in list()."""
        accounts = self.list()
        if ref.isdigit() and 1 <= int(ref) <= len(accounts):
            return accounts[int(ref) - 1]
        for account in accounts:
            if account.key == ref or (account.email or "").lower() == ref.lower():
                return account
        return None

    def default(self) -> Account | None:
        accounts = self.list()
        return accounts[0] if accounts else None

    def upsert(self, account: Account) -> Account:
        """Insert the account, or replace identity and tokens of the one with the same key.

        A fresh login clears a "re-login required" mark. The first account becomes the default.
        """
        now = int(time.time())
        with self._transaction() as conn:
            has_default = conn.execute(
                "SELECT 1 FROM accounts WHERE is_default = 1 AND key != ?", (account.key,)
            ).fetchone()
            conn.execute(
                """
                INSERT INTO accounts (key, email, plan, chatgpt_account_id, chatgpt_user_id,
                    id_token, access_token, refresh_token, access_expires_at, last_refresh,
                    status, status_reason, is_default, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, ?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET
                    email = excluded.email, plan = excluded.plan,
                    id_token = excluded.id_token, access_token = excluded.access_token,
                    refresh_token = excluded.refresh_token,
                    access_expires_at = excluded.access_expires_at,
                    last_refresh = excluded.last_refresh,
                    status = 'ok', status_reason = NULL, updated_at = excluded.updated_at
                """,
                (
                    account.key,
                    account.email,
                    account.plan,
                    account.chatgpt_account_id,
                    account.chatgpt_user_id,
                    account.id_token,
                    account.access_token,
                    account.refresh_token,
                    account.access_expires_at,
                    account.last_refresh,
                    0 if has_default else 1,
                    account.created_at or now,
                    now,
                ),
            )
        stored = self.get(account.key)
        assert stored is not None
        return stored

    def remove(self, key: str) -> bool:
        with self._transaction() as conn:
            removed = conn.execute("DELETE FROM accounts WHERE key = ?", (key,)).rowcount > 0
            if (
                removed
                and not conn.execute("SELECT 1 FROM accounts WHERE is_default = 1").fetchone()
            ):
                conn.execute(
                    "UPDATE accounts SET is_default = 1 WHERE key = "
                    "(SELECT key FROM accounts ORDER BY created_at, key LIMIT 1)"
                )
        return removed

    def set_default(self, key: str) -> None:
        with self._transaction() as conn:
            if not conn.execute("SELECT 1 FROM accounts WHERE key = ?", (key,)).fetchone():
                raise KeyError(key)
            conn.execute("UPDATE accounts SET is_default = (key = ?)", (key,))

    def save_tokens(self, account: Account) -> None:
        """Persist a refreshed token set (rotated refresh token included) in one transaction."""
        with self._transaction() as conn:
            conn.execute(
                """
                UPDATE accounts SET id_token = ?, access_token = ?, refresh_token = ?,
                    access_expires_at = ?, last_refresh = ?, status = 'ok', status_reason = NULL,
                    updated_at = ?
                WHERE key = ?
                """,
                (
                    account.id_token,
                    account.access_token,
                    account.refresh_token,
                    account.access_expires_at,
                    account.last_refresh,
                    int(time.time()),
                    account.key,
                ),
            )

    def mark_status(self, key: str, status: AccountStatus, reason: str | None) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE accounts SET status = ?, status_reason = ?, updated_at = ? WHERE key = ?",
                (status.value, reason, int(time.time()), key),
            )

    def set_paused(self, key: str, paused: bool) -> None:
        with self._transaction() as conn:
            if not conn.execute(
                "UPDATE accounts SET paused = ?, updated_at = ? WHERE key = ?",
                (int(paused), int(time.time()), key),
            ).rowcount:
                raise KeyError(key)

    def set_cooldown(self, key: str, until: float | None, reason: str | None) -> None:
        """No new work for the account before `until` (None lifts the cooldown)."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE accounts SET cooldown_until = ?, cooldown_reason = ? WHERE key = ?",
                (until, reason if until is not None else None, key),
            )

    def save_quota(self, key: str, quota: dict[str, Any], captured_at: int) -> None:
        with self._transaction() as conn:
            conn.execute(
                "UPDATE accounts SET quota = ?, quota_captured_at = ? WHERE key = ?",
                (json.dumps(quota, separators=(",", ":")), captured_at, key),
            )

    def quota(self, key: str) -> tuple[dict[str, Any], int] | None:
        row = self._conn.execute(
            "SELECT quota, quota_captured_at FROM accounts WHERE key = ?", (key,)
        ).fetchone()
        if not row or row["quota"] is None:
            return None
        return json.loads(row["quota"]), row["quota_captured_at"]
