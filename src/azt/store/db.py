"""The SQLite database: one file, WAL, owner-only permissions, forward-only migrations."""

import os
import sqlite3
from pathlib import Path

# Each entry upgrades the schema by one version; never edit an entry once released.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        email TEXT,
        plan TEXT,
        chatgpt_account_id TEXT NOT NULL,
        chatgpt_user_id TEXT,
        id_token TEXT NOT NULL,
        access_token TEXT NOT NULL,
        refresh_token TEXT NOT NULL,
        access_expires_at INTEGER,
        last_refresh INTEGER,
        status TEXT NOT NULL DEFAULT 'ok',
        status_reason TEXT,
        is_default INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        quota TEXT,
        quota_captured_at INTEGER
    );
    CREATE TABLE model_catalog (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        models TEXT NOT NULL,
        etag TEXT,
        client_version TEXT,
        fetched_at INTEGER NOT NULL
    );
    """,
    """
    ALTER TABLE accounts ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE accounts ADD COLUMN cooldown_until REAL;
    ALTER TABLE accounts ADD COLUMN cooldown_reason TEXT;
    """,
    """
    CREATE TABLE requests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        started_at REAL NOT NULL,
        day TEXT NOT NULL,
        ingress TEXT NOT NULL,
        client TEXT NOT NULL,
        source TEXT NOT NULL,
        source_version TEXT,
        method TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        dialect TEXT NOT NULL,
        stream INTEGER NOT NULL,
        model_requested TEXT,
        model_served TEXT,
        account TEXT,
        status INTEGER,
        ok INTEGER NOT NULL,
        error_type TEXT,
        attempts INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        ttfb_ms REAL,
        usage_known INTEGER NOT NULL,
        input_tokens INTEGER,
        cached_tokens INTEGER,
        output_tokens INTEGER,
        reasoning_tokens INTEGER,
        total_tokens INTEGER,
        image_count INTEGER NOT NULL,
        image_route TEXT,
        cost_micro_usd INTEGER,
        preview_in TEXT,
        preview_out TEXT
    );
    CREATE INDEX requests_started_at ON requests (started_at);
    CREATE TABLE usage_rollup (
        day TEXT NOT NULL,
        dimension TEXT NOT NULL,
        key TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0,
        successes INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        failovers INTEGER NOT NULL DEFAULT 0,
        usage_unknown INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        cached_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
        total_tokens INTEGER NOT NULL DEFAULT 0,
        images INTEGER NOT NULL DEFAULT 0,
        cost_micro_usd INTEGER NOT NULL DEFAULT 0,
        unpriced INTEGER NOT NULL DEFAULT 0,
        duration_ms_total REAL NOT NULL DEFAULT 0,
        ttfb_ms_total REAL NOT NULL DEFAULT 0,
        ttfb_count INTEGER NOT NULL DEFAULT 0,
        b100 INTEGER NOT NULL DEFAULT 0,
        b300 INTEGER NOT NULL DEFAULT 0,
        b500 INTEGER NOT NULL DEFAULT 0,
        b1000 INTEGER NOT NULL DEFAULT 0,
        b2000 INTEGER NOT NULL DEFAULT 0,
        b5000 INTEGER NOT NULL DEFAULT 0,
        b10000 INTEGER NOT NULL DEFAULT 0,
        b30000 INTEGER NOT NULL DEFAULT 0,
        b60000 INTEGER NOT NULL DEFAULT 0,
        b120000 INTEGER NOT NULL DEFAULT 0,
        binf INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (day, dimension, key)
    ) WITHOUT ROWID;
    CREATE INDEX usage_rollup_by_dimension ON usage_rollup (dimension, day);
    """,
]


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path`, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            os.chmod(side, 0o600)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
