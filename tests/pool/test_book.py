"""The pool's in-memory account book: fresh for every request, without a query per request."""

import asyncio
import inspect
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from azt.config import Settings
from azt.exchange import Client, Exchange
from azt.pool.accounts import Account, AccountStatus
from azt.pool.book import WATCH_INTERVAL_SECONDS, AccountBook
from azt.pool.dispatch import Dispatcher
from azt.pool.quota import QuotaSaves
from azt.pool.runtime import PoolRuntime
from azt.pool.slots import Slots
from azt.pool.tokens import TokenManager
from azt.pool.upstream import Upstream, UpstreamCall
from azt.sim.faults import Fault
from azt.store.accounts import AccountStore
from azt.store.db import open_database
from azt.store.worker import StoreWorker
from support.accounts import make_account

A, B = "a/u", "b/u"


class CountingWorker(StoreWorker):
    """A store worker that counts what it runs, by function name."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    async def run[**P, T](self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        self.calls[fn.__name__] += 1
        return await super().run(fn, *args, **kwargs)


class Ticker:
    """A stand-in for `asyncio.sleep` that the test advances one tick at a time."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self._ticks: asyncio.Queue[None] = asyncio.Queue()
        self._asleep: asyncio.Queue[None] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._asleep.put_nowait(None)
        await self._ticks.get()

    async def asleep(self) -> None:
        """Returns once the watcher is waiting for its next tick."""
        await asyncio.wait_for(self._asleep.get(), 5)

    async def tick(self) -> None:
        """Let one interval pass and wait until the watcher's check is done."""
        self._ticks.put_nowait(None)
        await self.asleep()


@pytest.fixture
def counting_worker() -> Any:
    w = CountingWorker()
    yield w
    w.close()


@pytest.fixture
async def book(store: AccountStore, counting_worker: CountingWorker) -> AsyncIterator[AccountBook]:
    store.upsert(make_account(A, created_at=1))
    store.upsert(make_account(B, created_at=2))
    book = AccountBook(store, counting_worker)
    yield book
    await book.aclose()


def by_key(accounts: list[Account]) -> dict[str, Account]:
    return {a.key: a for a in accounts}


@pytest.fixture
def outside(tmp_path: Path, db: sqlite3.Connection) -> Iterator[AccountStore]:
    """The store on its own connection, as another process (the `azt accounts` CLI) has it."""
    conn = open_database(tmp_path / "azt.db")  # the file the `db` fixture opened
    yield AccountStore(conn)
    conn.close()


def quota(used: float, *, reset_after: int = 600, reset_at: int = 1_800_000_000) -> dict[str, Any]:
    window = {
        "used_percent": used,
        "window_minutes": 300,
        "reset_at": reset_at,
        "reset_after_seconds": reset_after,
    }
    return {"primary": window, "plan_type": "plus"}


# Every AccountStore method that writes, with what the next read must show afterwards.
MUTATIONS: dict[str, tuple[Callable[[AccountStore], object], Callable[[list[Account]], bool]]] = {
    "upsert": (
        lambda s: s.upsert(make_account("c/u", created_at=3)),
        lambda accounts: "c/u" in by_key(accounts),
    ),
    "remove": (lambda s: s.remove(B), lambda accounts: B not in by_key(accounts)),
    "set_default": (lambda s: s.set_default(B), lambda accounts: accounts[0].key == B),
    "save_tokens": (
        lambda s: s.save_tokens(make_account(A, access_token="rotated")),
        lambda accounts: by_key(accounts)[A].access_token == "rotated",
    ),
    "mark_status": (
        lambda s: s.mark_status(A, AccountStatus.RELOGIN_REQUIRED, "dead"),
        lambda accounts: by_key(accounts)[A].status is AccountStatus.RELOGIN_REQUIRED,
    ),
    "set_paused": (lambda s: s.set_paused(A, True), lambda accounts: by_key(accounts)[A].paused),
    "set_cooldown": (
        lambda s: s.set_cooldown(A, 2e9, "rate_limited"),
        lambda accounts: by_key(accounts)[A].cooldown_until == 2e9,
    ),
    "save_quota": (
        lambda s: s.save_quota(A, quota(42), 100),
        lambda accounts: by_key(accounts)[A].quota == quota(42),
    ),
}
READERS = {"list", "count", "get", "find", "default", "quota", "listing", "data_version"}


def test_every_writing_method_of_the_store_is_covered() -> None:
    """A write method added to AccountStore must be added to MUTATIONS (and bump generation)."""
    public = {
        name
        for name, member in inspect.getmembers(AccountStore, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public - READERS == set(MUTATIONS)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_a_write_in_this_process_is_seen_by_the_very_next_request(
    book: AccountBook, store: AccountStore, name: str
) -> None:
    mutate, shows = MUTATIONS[name]
    assert not shows(await book.accounts())
    mutate(store)  # synchronously, as tests and the admin API do while the gateway runs
    assert shows(await book.accounts())


async def test_the_common_path_touches_no_database(
    book: AccountBook, counting_worker: CountingWorker
) -> None:
    first = await book.accounts()
    for _ in range(50):
        assert await book.accounts() == first
    assert counting_worker.calls == Counter({"listing": 1})


async def test_callers_get_their_own_list(book: AccountBook) -> None:
    mine = await book.accounts()
    mine.clear()
    assert len(await book.accounts()) == 2


async def test_a_queued_write_is_seen_by_a_request_that_starts_after_it(
    book: AccountBook, store: AccountStore
) -> None:
    await book.accounts()
    # Queued as the dispatcher queues a cooldown: not awaited, not even started yet.
    book.write(store.set_cooldown, A, 2e9, "usage_limit")
    assert by_key(await book.accounts())[A].cooldown_until == 2e9


async def test_a_failed_queued_write_does_not_block_requests(
    book: AccountBook, store: AccountStore
) -> None:
    await book.accounts()

    def broken() -> None:
        raise sqlite3.OperationalError("database is locked")

    task = book.write(broken)
    assert len(await book.accounts()) == 2
    with pytest.raises(sqlite3.OperationalError):
        await task


async def test_flush_waits_for_every_write_queued_so_far(
    book: AccountBook, store: AccountStore
) -> None:
    await book.accounts()
    # Queued as the dispatcher queues them: not awaited, not even started yet.
    book.write(store.set_cooldown, A, 2e9, "usage_limit")
    book.note_quota(A, quota(42), 100)
    await book.flush()
    on_disk = store.get(A)  # read past the book, straight from the database
    assert on_disk is not None and on_disk.cooldown_until == 2e9
    assert store.quota(A) == (quota(42), 100)


class PausingStore(AccountStore):
    """Holds each read on the worker thread, after its SELECT, until the test says go."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.read = threading.Event()
        self.go = threading.Event()

    def list(self) -> list[Account]:
        accounts = super().list()
        self.read.set()
        self.go.wait(5)
        return accounts


async def test_a_reload_that_read_before_a_write_does_not_hide_it(
    db: sqlite3.Connection, worker: StoreWorker
) -> None:
    store = PausingStore(db)
    store.upsert(make_account(A))
    book = AccountBook(store, worker)
    try:
        early = asyncio.ensure_future(book.accounts())
        await asyncio.to_thread(store.read.wait, 5)  # the reload has read: A not paused
        store.set_paused(A, True)
        late = asyncio.ensure_future(book.accounts())
        await asyncio.sleep(0)  # `late` finds that reload under way, still unfinished
        store.go.set()
        assert not by_key(await early)[A].paused  # began before the write: either is fine
        assert by_key(await late)[A].paused  # began after it: must not settle for that read
        assert by_key(await book.accounts())[A].paused
    finally:
        store.go.set()
        await book.aclose()


async def test_a_request_that_gives_up_does_not_cancel_the_reload_others_wait_for(
    db: sqlite3.Connection, worker: StoreWorker
) -> None:
    store = PausingStore(db)
    store.upsert(make_account(A))
    book = AccountBook(store, worker)
    try:
        leaving = asyncio.ensure_future(book.accounts())
        await asyncio.to_thread(store.read.wait, 5)
        staying = asyncio.ensure_future(book.accounts())
        await asyncio.sleep(0)  # both wait for the same reload now
        leaving.cancel()  # a client disconnected
        store.go.set()
        assert [a.key for a in await staying] == [A]
        assert leaving.cancelled()
    finally:
        store.go.set()
        await book.aclose()


async def test_another_connections_commit_is_picked_up_by_the_check(
    book: AccountBook, outside: AccountStore
) -> None:
    await book.accounts()
    outside.set_paused(A, True)
    assert not by_key(await book.accounts())[A].paused  # no query per request
    await book.check_outside_writes()
    assert by_key(await book.accounts())[A].paused


async def test_the_watch_checks_every_interval_and_stops_on_close(
    store: AccountStore, outside: AccountStore, counting_worker: CountingWorker
) -> None:
    store.upsert(make_account(A))
    ticker = Ticker()
    book = AccountBook(store, counting_worker, sleep=ticker.sleep)
    try:
        await book.accounts()
        book.start()
        await ticker.asleep()
        await ticker.tick()
        assert counting_worker.calls["listing"] == 1  # nothing changed: no reload
        outside.set_paused(A, True)
        await ticker.tick()
        assert by_key(await book.accounts())[A].paused
        assert counting_worker.calls["listing"] == 2
        assert ticker.slept and set(ticker.slept) == {WATCH_INTERVAL_SECONDS}
    finally:
        await book.aclose()
    assert counting_worker.calls["data_version"] == 2


async def test_the_runtime_leaves_no_task_behind(tmp_path: Path) -> None:
    runtime = PoolRuntime(Settings(), tmp_path / "azt.db")
    runtime.accounts.upsert(make_account(A))
    assert [a.key for a in await runtime.list_accounts()] == [A]
    await runtime.aclose()
    assert asyncio.all_tasks() == {asyncio.current_task()}


class NoQuotaWrites(QuotaSaves):
    def due(self, key: str, snapshot: dict[str, Any], captured_at: int) -> bool:
        return False


async def test_a_noted_quota_is_seen_at_once_and_survives_reloads(
    store: AccountStore, outside: AccountStore, worker: StoreWorker
) -> None:
    store.upsert(make_account(A))
    store.upsert(make_account(B))
    book = AccountBook(store, worker, quota_saves=NoQuotaWrites())
    try:
        await book.accounts()
        book.note_quota(A, quota(30), 1000)
        assert by_key(await book.accounts())[A].quota == quota(30)
        outside.set_paused(B, True)  # a change by another process: the next check reloads
        await book.check_outside_writes()
        accounts = by_key(await book.accounts())
        assert accounts[B].paused  # the reload happened
        reloaded = accounts[A]
        assert reloaded.quota == quota(30) and reloaded.quota_captured_at == 1000
        assert store.quota(A) is None  # never written: memory alone has it
    finally:
        await book.aclose()


async def test_a_noted_quota_is_forgotten_with_its_account(
    store: AccountStore, worker: StoreWorker
) -> None:
    store.upsert(make_account(A))
    book = AccountBook(store, worker, quota_saves=NoQuotaWrites())
    try:
        book.note_quota(A, quota(30), 1000)
        store.remove(A)
        assert await book.accounts() == []
        store.upsert(make_account(A))
        assert by_key(await book.accounts())[A].quota is None  # as a fresh login has
    finally:
        await book.aclose()


class CountingStore(AccountStore):
    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.quota_writes: list[dict[str, Any]] = []

    def save_quota(self, key: str, quota: dict[str, Any], captured_at: int) -> None:
        self.quota_writes.append(quota)
        super().save_quota(key, quota, captured_at)


async def test_quota_is_written_only_when_it_says_something_new(
    db: sqlite3.Connection, worker: StoreWorker
) -> None:
    store = CountingStore(db)
    store.upsert(make_account(A))
    book = AccountBook(store, worker)
    await book.accounts()
    for second in range(5):  # replies a second apart: only the countdown moves
        book.note_quota(A, quota(30, reset_after=600 - second), 1000 + second)
    book.note_quota(A, quota(31, reset_after=590), 1010)  # one more percent used
    latest = by_key(await book.accounts())[A]
    await book.aclose()  # lets the queued writes land
    assert [q["primary"]["used_percent"] for q in store.quota_writes] == [30, 31]
    assert latest.quota == quota(31, reset_after=590) and latest.quota_captured_at == 1010
    on_disk = store.quota(A)
    assert on_disk is not None and on_disk[0]["primary"]["used_percent"] == 31


async def test_a_failed_quota_write_is_retried_with_the_next_reply(
    db: sqlite3.Connection, worker: StoreWorker
) -> None:
    class FailingOnce(CountingStore):
        def save_quota(self, key: str, quota: dict[str, Any], captured_at: int) -> None:
            super().save_quota(key, quota, captured_at)
            if len(self.quota_writes) == 1:
                raise sqlite3.OperationalError("database is locked")

    store = FailingOnce(db)
    store.upsert(make_account(A))
    book = AccountBook(store, worker)
    book.note_quota(A, quota(30), 1000)
    await book.flush()
    book.note_quota(A, quota(30, reset_after=599), 1001)  # unchanged, but the first failed
    book.note_quota(A, quota(30, reset_after=598), 1002)
    await book.aclose()
    assert len(store.quota_writes) == 2


# --- through the dispatcher, against the simulator ------------------------------------------

CODEX_BODY = {
    "model": "gpt-5.4",
    "instructions": "",
    "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ],
    "store": False,
    "stream": True,
}


async def test_a_benched_account_is_skipped_by_the_next_request(
    sim: Any, store: AccountStore, worker: StoreWorker
) -> None:
    limited = store.upsert(sim.state.pool_account("limited@example.com"))
    healthy = store.upsert(sim.state.pool_account("healthy@example.com"))
    sim.state.set_fault(limited.chatgpt_account_id, Fault("usage_limit"))
    book = AccountBook(store, worker)
    settings: Settings = sim.settings.model_copy(update={"pool_strategy": "fill-first"})
    upstream = Upstream(settings)
    try:
        tokens = TokenManager(store, worker, upstream.client, settings, book=book)
        slots = Slots(settings.account_max_concurrency, settings.pool_queue_max)
        dispatcher = Dispatcher(settings, upstream, tokens, book, slots)
        call = UpstreamCall(
            "POST",
            "/responses",
            {"content-type": "application/json"},
            json.dumps(CODEX_BODY).encode(),
            stream=True,
        )
        for _ in range(2):
            opened = await dispatcher.open(call, Exchange("x", Client(""), "POST", "/"))
            await opened.response.aclose()
            opened.release()
    finally:
        await upstream.aclose()
    await book.aclose()
    served = [r.account_id for r in sim.state.requests if r.path.endswith("/responses")]
    # The second request went straight to the healthy account: it saw the cooldown.
    assert served == [
        limited.chatgpt_account_id,
        healthy.chatgpt_account_id,
        healthy.chatgpt_account_id,
    ]
    benched = store.get(limited.key)
    assert benched is not None and benched.cooldown_reason == "usage_limit"
    assert benched.quota is not None and benched.quota["primary"]["used_percent"] == 100
