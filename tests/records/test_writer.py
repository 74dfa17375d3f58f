"""The record writer: group commits on its own thread, retries, losses reported, pruning."""

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from azt.dialects.common.usage import TokenUsage
from azt.records import writer as writer_module
from azt.records.record import RequestRecord
from azt.records.writer import BATCH_MAX, RETRIES, RecordWriter
from azt.store.db import open_database
from azt.store.requests import RequestStore
from support.records import make_record as shared_record


def make_record(n: int, **overrides: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "id": f"r{n}",
        "started_at": time.time() - 60 + n / 1000,
        "duration_ms": 120.0,
        "ttfb_ms": 30.0,
        "usage": TokenUsage(input=10, cached=2, output=5, reasoning=1, total=15),
        "cost_micro_usd": 42,
    }
    return shared_record(**(values | overrides))


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "azt.db"


def stored(database: Path) -> tuple[list[str], int, int]:
    """(sorted ids, rollup request total, rollup token total) as another connection sees them."""
    conn = open_database(database)
    try:
        ids = sorted(row[0] for row in conn.execute("SELECT id FROM requests"))
        total = RequestStore(conn).total()
        return ids, total.requests, total.total_tokens
    finally:
        conn.close()


def test_close_writes_everything_submitted(database: Path) -> None:
    writer = RecordWriter(database, retention_days=30)
    before_start = [make_record(n) for n in range(5)]
    for record in before_start:
        writer.submit(record)
    writer.start()
    # Submitted right before close, with no flush in between.
    for n in range(5, 50):
        writer.submit(make_record(n))
    writer.close()
    ids, requests, tokens = stored(database)
    assert ids == sorted(f"r{n}" for n in range(50))
    assert requests == 50 and tokens == 50 * 15
    assert writer.written == 50 and writer.lost == 0


def test_flush_waits_for_the_commit(database: Path) -> None:
    writer = RecordWriter(database, retention_days=30)
    writer.start()
    try:
        for n in range(20):
            writer.submit(make_record(n))
        writer.flush()
        assert len(stored(database)[0]) == 20  # visible to another connection
        assert writer.written == 20
        writer.flush()  # nothing queued: returns at once
        writer.submit(make_record(20))
        writer.flush()
        assert len(stored(database)[0]) == 21
    finally:
        writer.close()


def test_a_flush_waits_only_for_what_was_queued_before_it(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under steady traffic the queue never empties; a flush must still return. Here a record
    queued during the flush is held back from its commit until the flush has returned."""
    writer = RecordWriter(database, retention_days=30)
    release = threading.Event()
    write = RecordWriter._write

    def write_then_more(self: RecordWriter, store: RequestStore, batch: list) -> None:
        if batch[0].id == "r1":
            release.wait()  # the later record commits only once the flush is over
        write(self, store, batch)
        if batch[0].id == "r0":
            self.submit(make_record(1))  # traffic arriving while the flush waits

    monkeypatch.setattr(RecordWriter, "_write", write_then_more)
    writer.start()
    try:
        writer.submit(make_record(0))
        writer.flush()
        assert stored(database)[0] == ["r0"]
    finally:
        release.set()
        writer.close()
    assert stored(database)[0] == ["r0", "r1"]


def test_many_threads_and_large_batches(database: Path) -> None:
    count = 2 * BATCH_MAX + 137
    writer = RecordWriter(database, retention_days=30)
    for n in range(count):  # queued before start: drained in several batches
        writer.submit(make_record(n))
    writer.start()

    def submit(base: int) -> None:
        for n in range(100):
            writer.submit(make_record(base + n))

    threads = [threading.Thread(target=submit, args=(10_000 * (t + 1),)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    ids, requests, _ = stored(database)
    assert len(ids) == len(set(ids)) == requests == count + 400
    assert writer.written == count + 400


def test_duplicate_submissions_are_stored_once(database: Path) -> None:
    writer = RecordWriter(database, retention_days=30)
    writer.start()
    record = make_record(1)
    writer.submit(record)
    writer.flush()
    writer.submit(record)
    writer.submit(record)
    writer.close()
    assert stored(database) == (["r1"], 1, 15)


def failing_store(failures: int, *, after_commit: bool = False) -> type[RequestStore]:
    """A RequestStore whose first `failures` adds raise (before or after committing)."""

    class Failing(RequestStore):
        left = failures
        calls = 0

        def add(self, records: Sequence[RequestRecord]) -> None:
            Failing.calls += 1
            if Failing.left and not after_commit:
                Failing.left -= 1
                raise sqlite3.OperationalError("database is locked")
            super().add(records)
            if Failing.left:
                Failing.left -= 1
                raise sqlite3.OperationalError("disk I/O error")  # committed, but who knows

    return Failing


@pytest.mark.parametrize("after_commit", [False, True])
def test_retries_lose_nothing(
    database: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    after_commit: bool,
) -> None:
    store_class = failing_store(RETRIES - 1, after_commit=after_commit)
    monkeypatch.setattr(writer_module, "RequestStore", store_class)
    caplog.set_level(logging.WARNING, logger=writer_module.__name__)
    writer = RecordWriter(database, retention_days=30)
    for n in range(10):
        writer.submit(make_record(n))
    writer.start()
    writer.close()
    assert writer.lost == 0
    assert writer.written == 10
    # Retrying a batch that did commit counts nothing twice.
    assert stored(database) == (sorted(f"r{n}" for n in range(10)), 10, 150)
    assert store_class.calls == RETRIES
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == RETRIES - 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_persistent_failure_is_counted_and_logged(
    database: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store_class = failing_store(10**6)
    monkeypatch.setattr(writer_module, "RequestStore", store_class)
    caplog.set_level(logging.WARNING, logger=writer_module.__name__)
    writer = RecordWriter(database, retention_days=30)
    for n in range(7):
        writer.submit(make_record(n))
    writer.start()
    writer.flush()  # returns although nothing could be written
    writer.close()
    assert writer.lost == 7
    assert writer.written == 0
    # The batch RETRIES times, then each record alone, as it is and in its safe form.
    assert store_class.calls == RETRIES + 7 * 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "7" in errors[0].getMessage() and errors[0].exc_info is not None
    lost = [r.getMessage() for r in errors[1:]]
    assert lost == [f"could not save request record r{n}; it is lost" for n in range(7)]
    assert stored(database) == ([], 0, 0)


def test_one_bad_record_costs_no_other_record_and_is_kept_in_a_safe_form(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record the store refuses is written with its text escaped; its batch is kept."""

    class Picky(RequestStore):
        def add(self, records: Sequence[RequestRecord]) -> None:
            if any(not (r.model_requested or "").isascii() for r in records):
                raise sqlite3.OperationalError("cannot store this text")
            super().add(records)

    monkeypatch.setattr(writer_module, "RequestStore", Picky)
    writer = RecordWriter(database, retention_days=30)
    for n in range(5):
        writer.submit(make_record(n, model_requested="gpt-5.4" if n != 2 else "bad\u00e9"))
    writer.start()
    writer.close()
    assert (writer.written, writer.lost) == (5, 0)
    ids, _, _ = stored(database)
    assert ids == [f"r{n}" for n in range(5)]
    conn = open_database(database)
    try:
        (model,) = conn.execute("SELECT model_requested FROM requests WHERE id = 'r2'").fetchone()
    finally:
        conn.close()
    assert model == "bad\\xe9"


def test_prunes_old_records_at_start_and_keeps_rollups(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = time.time()
    old = [make_record(n, started_at=now - 10 * 86400 - n) for n in range(6)]
    recent = [make_record(n, started_at=now - 3 * 86400 - n) for n in range(10, 14)]
    conn = open_database(database)
    try:
        RequestStore(conn).add([*old, *recent])
    finally:
        conn.close()
    caplog.set_level(logging.INFO, logger=writer_module.__name__)

    writer = RecordWriter(database, retention_days=7)
    writer.start()
    writer.submit(make_record(99))
    writer.close()

    ids, requests, tokens = stored(database)
    assert ids == sorted(r.id for r in [*recent, make_record(99)])
    assert requests == len(old) + len(recent) + 1  # lifetime totals survive pruning
    assert tokens == 15 * requests
    assert any("6 request record" in r.getMessage() for r in caplog.records)


def test_unstarted_writer_does_not_block(database: Path) -> None:
    writer = RecordWriter(database, retention_days=30)
    writer.submit(make_record(1))
    writer.flush()
    writer.close()
    assert writer.written == 0


def test_close_twice(database: Path) -> None:
    writer = RecordWriter(database, retention_days=30)
    writer.start()
    writer.submit(make_record(1))
    writer.close()
    writer.close()
    assert stored(database)[0] == ["r1"]


def test_unusable_database_loses_records_but_never_hangs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """If the database cannot be opened, records are reported lost; flush and close return."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    caplog.set_level(logging.WARNING, logger=writer_module.__name__)
    writer = RecordWriter(blocker / "azt.db", retention_days=30)
    writer.submit(make_record(1))
    writer.start()
    writer.submit(make_record(2))
    finished = threading.Event()

    def flush_then_close() -> None:
        writer.flush()
        writer.submit(make_record(3))
        writer.close()
        finished.set()

    threading.Thread(target=flush_then_close, daemon=True).start()
    assert finished.wait(10), "flush or close hung"
    assert writer.lost == 3
    assert writer.written == 0
    assert [r for r in caplog.records if r.levelno == logging.ERROR]
