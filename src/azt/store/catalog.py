"""The model catalog as last fetched from the Codex backend (`azt models --refresh`)."""

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredCatalog:
    models: list[dict[str, Any]]
    etag: str | None
    client_version: str | None
    fetched_at: int


class CatalogStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def load(self) -> StoredCatalog | None:
        row = self._conn.execute(
            "SELECT models, etag, client_version, fetched_at FROM model_catalog WHERE id = 1"
        ).fetchone()
        if not row:
            return None
        return StoredCatalog(
            json.loads(row["models"]), row["etag"], row["client_version"], row["fetched_at"]
        )

    def save(
        self, models: list[dict[str, Any]], etag: str | None, client_version: str | None
    ) -> StoredCatalog:
        fetched_at = int(time.time())
        self._conn.execute(
            """
            INSERT INTO model_catalog (id, models, etag, client_version, fetched_at)
            VALUES (1, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET models = excluded.models, etag = excluded.etag,
                client_version = excluded.client_version, fetched_at = excluded.fetched_at
            """,
            (json.dumps(models), etag, client_version, fetched_at),
        )
        return StoredCatalog(models, etag, client_version, fetched_at)
