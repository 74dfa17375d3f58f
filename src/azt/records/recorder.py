"""The gateway's memory of its requests: record them, sum them, and answer questions about them.

Records are written on the writer's thread and read on a reader thread with its own
connection (SQLite in WAL mode lets reads run beside the writer), so the event loop does
neither. Totals for the running process are kept in memory as well.
"""

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from azt.config import Settings
from azt.records.prices import PriceTable, merged_prices
from azt.records.record import RequestRecord
from azt.records.rollup import Aggregate
from azt.records.summary import usage_summary
from azt.records.writer import RecordWriter
from azt.store.db import open_database
from azt.store.requests import RequestFilter, RequestStore
from azt.store.worker import StoreWorker


class Recorder:
    """Must be started and closed; `record()` is cheap and safe on the event loop."""

    def __init__(self, settings: Settings, database: Path) -> None:
        self.database = database
        self.prices = PriceTable(merged_prices(settings.prices))
        self.previews = settings.log_previews
        self.started_at = time.time()
        self.process = Aggregate()
        self._writer = RecordWriter(database, settings.request_log_retention_days)
        self._reader = StoreWorker()
        self._conn = open_database(database)
        self._store = RequestStore(self._conn)
        self._observers: list[Callable[[RequestRecord], None]] = []

    def start(self) -> None:
        self._writer.start()

    def observe(self, observer: Callable[[RequestRecord], None]) -> None:
        """Call `observer` with every record as it is made (metrics)."""
        self._observers.append(observer)

    def record(self, record: RequestRecord) -> None:
        self.process.add(Aggregate.of(record))
        for observer in self._observers:
            observer(record)
        self._writer.submit(record)

    async def flush(self) -> None:
        """Wait until everything recorded so far is committed."""
        await self._reader.run(self._writer.flush)

    async def summary(self, since: date | None = None) -> dict[str, Any]:
        return await self._reader.run(self._summary, since)

    async def requests(self, query: RequestFilter) -> dict[str, Any]:
        return await self._reader.run(self._requests, query)

    def close(self) -> None:
        """Write what is still queued, then let go of the database."""
        self._writer.close()
        self._reader.close()
        self._conn.close()

    # On the reader thread:

    def _summary(self, since: date | None) -> dict[str, Any]:
        self._writer.flush()
        return usage_summary(
            self._store,
            since=since,
            database=self.database,
            process=self.process,
            process_started_at=self.started_at,
        )

    def _requests(self, query: RequestFilter) -> dict[str, Any]:
        self._writer.flush()
        found = self._store.find(query)
        return {
            "data": [{"seq": seq, **record.as_json()} for seq, record in found],
            "total": self._store.count(query),
            "last_seq": self._store.last_seq(),
            # Page back with before_seq = this value.
            "next_before_seq": found[-1][0] if len(found) == query.limit else None,
        }
