"""Write request records on their own thread, batched, so the event loop never waits on disk.

Records queue up in memory; the writer thread wakes at most every `LINGER_SECONDS`, takes
everything waiting and commits it in one transaction (group commit). Waking per record would
cost far more than the write: each wake makes the thread contend with the event loop for the
GIL, which added milliseconds to every request. `flush()` and `close()` cut the wait short;
`close()` writes whatever is still queued before it returns. A failed write is retried; if
the batch keeps failing, its records are written one at a time, each one that still fails in
a safe form (its text reduced to printable ASCII), so one bad record never costs the others
theirs. A record that cannot be written even so is reported as lost in the log, never dropped
silently.
"""

import dataclasses
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

from azt.records.record import RequestRecord
from azt.store.db import open_database
from azt.store.requests import RequestStore

logger = logging.getLogger(__name__)

BATCH_MAX = 500
LINGER_SECONDS = 0.25  # how long a record may wait for others to share its commit
RETRIES = 3
PRUNE_EVERY_SECONDS = 3600.0

_STOP = object()


class RecordWriter:
    def __init__(self, database: Path, retention_days: int) -> None:
        self._database = database
        self._retention_seconds = retention_days * 86400
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="azt-records", daemon=True)
        self._last_prune = 0.0
        self.written = 0
        self.lost = 0
        self._started = False
        self._closed = False
        self._hurry = threading.Event()  # set when someone waits for the queue to be written
        # Records are numbered as they are queued and settled (committed or lost) in the same
        # order, so a flush waits for what was queued before it, not for a queue that steady
        # traffic never lets empty.
        self._progress = threading.Condition()
        self._submitted = 0
        self._settled = 0

    def start(self) -> None:
        self._started = True
        self._thread.start()

    def submit(self, record: RequestRecord) -> None:
        if self._closed:
            self.lost += 1
            logger.error("a request record arrived after the log was closed; it is lost")
            return
        with self._progress:
            self._submitted += 1
            self._queue.put(record)

    def flush(self) -> None:
        """Block until every record submitted before the call is committed (or reported
        lost); records submitted meanwhile do not hold it up."""
        if not self._started:
            return
        with self._progress:
            target = self._submitted
            while self._settled < target and self._thread.is_alive():
                self._hurry.set()
                self._progress.wait(LINGER_SECONDS)

    def _settle(self, count: int) -> None:
        with self._progress:
            self._settled += count
            self._progress.notify_all()

    def close(self) -> None:
        self._closed = True
        if self._started and self._thread.is_alive():
            self._queue.put(_STOP)
            self._hurry.set()
            self._thread.join()

    def _run(self) -> None:
        try:
            conn = open_database(self._database)
        except Exception:
            logger.exception("cannot open %s; request records will be lost", self._database)
            self._discard()
            return
        store = RequestStore(conn)
        try:
            self._prune(store)
            while True:
                first = self._queue.get()
                if first is not _STOP:
                    self._hurry.wait(LINGER_SECONDS)
                self._hurry.clear()
                batch, stop = self._drain(first)
                self._write(store, batch)
                self._settle(len(batch))
                for _ in range(len(batch) + int(stop)):
                    self._queue.task_done()
                if stop:
                    return
                if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
                    self._prune(store)
        finally:
            conn.close()

    def _drain(self, first: object) -> tuple[list[RequestRecord], bool]:
        batch: list[RequestRecord] = []
        item = first
        while True:
            if item is _STOP:
                # Anything queued after the stop marker still gets written.
                return batch + self._take_all(), True
            assert isinstance(item, RequestRecord)
            batch.append(item)
            if len(batch) >= BATCH_MAX:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _take_all(self) -> list[RequestRecord]:
        taken: list[RequestRecord] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return taken
            if isinstance(item, RequestRecord):
                taken.append(item)
            else:
                self._queue.task_done()

    def _discard(self) -> None:
        """Without a database, count every record as lost, so flush() and close() still return."""
        stopping = False
        while True:
            try:
                item = self._queue.get_nowait() if stopping else self._queue.get()
            except queue.Empty:
                return
            if item is _STOP:
                stopping = True
            else:
                self.lost += 1
                self._settle(1)
            self._queue.task_done()

    def _write(self, store: RequestStore, batch: list[RequestRecord]) -> None:
        if not batch:
            return
        for attempt in range(1, RETRIES + 1):
            try:
                store.add(batch)
            except Exception:
                if attempt == RETRIES:
                    logger.exception("saving %d request record(s) failed", len(batch))
                    self._write_one_by_one(store, batch)
                    return
                logger.warning("saving request records failed; retrying", exc_info=True)
                time.sleep(0.2 * attempt)
            else:
                self.written += len(batch)
                return

    def _write_one_by_one(self, store: RequestStore, batch: list[RequestRecord]) -> None:
        """Each record on its own, and a failing one again in its safe form."""
        for record in batch:
            for form in (record, safe_form(record)):
                try:
                    store.add([form])
                except Exception:
                    continue
                self.written += 1
                break
            else:
                self.lost += 1
                logger.error("could not save request record %s; it is lost", record.id)

    def _prune(self, store: RequestStore) -> None:
        self._last_prune = time.monotonic()
        try:
            removed = store.prune(time.time() - self._retention_seconds)
        except Exception:
            logger.warning("pruning old request records failed", exc_info=True)
            return
        if removed:
            logger.info("removed %d request record(s) past the retention period", removed)


def safe_form(record: RequestRecord) -> RequestRecord:
    """The record with every text field reduced to printable ASCII (anything else escaped)."""
    changes: dict[str, Any] = {
        field.name: _ascii(value)
        for field in dataclasses.fields(record)
        if isinstance(value := getattr(record, field.name), str)
    }
    return dataclasses.replace(record, **changes)


def _ascii(text: str) -> str:
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
