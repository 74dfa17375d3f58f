"""The pool's in-memory copy of the accounts table, so a request reads no database.

Reading the accounts from SQLite for every request would cost a thread hop to the store
worker and a SELECT each time. `AccountBook` keeps the last read and reloads it (on the
worker, one reload at a time) only when it may be stale:

- Writes made in this process through `AccountStore` move its `generation`; a request
  first compares generations, so it sees any write committed before it started.
- Writes the pool queues itself (`write`: a cooldown, refreshed tokens, a dead login) are
  waited for by every request that starts after they were queued, then reloaded, as when
  the request's read queued behind them on the serial store worker.
- Writes by other processes (`azt accounts ...`, `azt login`) move SQLite's data version; a
  background check every `watch_interval` seconds reloads when it moved.
- The quota of upstream replies is noted in memory at once (`note_quota`) and written only
  when it says something new (`QuotaSaves`); a reload never replaces a newer noted snapshot.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from azt.pool.accounts import Account
from azt.pool.quota import QuotaSaves
from azt.store.accounts import AccountStore, Listing
from azt.store.worker import StoreWorker
from azt.tasks import spawn

logger = logging.getLogger(__name__)

# How soon a change another process commits (the CLI pausing an account) reaches the pool.
WATCH_INTERVAL_SECONDS = 1.0

type Quota = tuple[dict[str, Any], int]  # a snapshot and when it was captured (unix seconds)


class AccountBook:
    """Every pooled account as of the last reload, kept current as the module says."""

    def __init__(
        self,
        store: AccountStore,
        worker: StoreWorker,
        *,
        watch_interval: float = WATCH_INTERVAL_SECONDS,
        quota_saves: QuotaSaves | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self._worker = worker
        self._watch_interval = watch_interval
        self._quota_saves = quota_saves if quota_saves is not None else QuotaSaves()
        self._sleep = sleep
        self._listing: Listing | None = None  # None until the first reload
        self._noted: dict[str, Quota] = {}  # key -> the newest snapshot a reply reported
        self._reloading: asyncio.Task[None] | None = None
        self._ordered_writes: set[asyncio.Task[Any]] = set()  # requests wait for these
        self._quota_writes: set[asyncio.Task[None]] = set()  # these only need to finish
        self._watcher: asyncio.Task[None] | None = None

    async def accounts(self) -> list[Account]:
        """Every account, the default one first, then oldest first; the list is the caller's.

        Usually answered from memory; it waits for the store worker only when a write this
        process made (or queued) is not in memory yet.
        """
        if self._ordered_writes:
            await asyncio.wait(set(self._ordered_writes))
        needed = self.store.generation
        while self._listing is None or self._listing.generation < needed:
            await self._reload()
        return list(self._listing.accounts)

    def write[**P, T](
        self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Task[T]:
        """Run the store write `fn` on the worker; every request from now on waits for it.

        The caller may await the task or leave it: it runs to the end either way, and a
        failure is logged.
        """
        task = spawn(self._worker.run(fn, *args, **kwargs), name=f"store {fn.__name__}")
        self._ordered_writes.add(task)
        task.add_done_callback(self._ordered_writes.discard)
        task.add_done_callback(_log_failure)
        return task

    def note_quota(self, key: str, snapshot: dict[str, Any], captured_at: int) -> None:
        """The quota an upstream reply just reported: in memory now, on disk if it is news."""
        self._noted[key] = (snapshot, captured_at)
        if self._listing is not None:
            accounts = [
                _with_quota(a, snapshot, captured_at) if a.key == key else a
                for a in self._listing.accounts
            ]
            self._listing = replace(self._listing, accounts=accounts)
        if self._quota_saves.due(key, snapshot, captured_at):
            # Not an ordered write: memory already has the snapshot, nobody needs to wait.
            task = spawn(self._save_quota(key, snapshot, captured_at), name=f"save quota {key}")
            self._quota_writes.add(task)
            task.add_done_callback(self._quota_writes.discard)

    async def _save_quota(self, key: str, snapshot: dict[str, Any], captured_at: int) -> None:
        try:
            await self._worker.run(self.store.save_quota, key, snapshot, captured_at)
        except Exception:
            self._quota_saves.forget(key)  # so the next reply writes it again
            logger.warning("could not save the quota of account %s", key, exc_info=True)

    async def _reload(self) -> None:
        """Join the reload under way, or start one; one at a time."""
        if self._reloading is None:
            self._reloading = spawn(self._load(), name="reload accounts")
            self._reloading.add_done_callback(_log_failure)
        # Shielded: a request that gives up must not cancel the reload others wait for.
        await asyncio.shield(self._reloading)

    async def _reload_from_now(self) -> None:
        """A reload that starts after this call, not one that may have read before it."""
        if self._reloading is not None:
            await asyncio.shield(self._reloading)
        await self._reload()

    async def _load(self) -> None:
        try:
            listing = await self._worker.run(self.store.listing)
        finally:
            self._reloading = None
        self._apply(listing)

    def _apply(self, listing: Listing) -> None:
        if self._listing is not None and listing.generation < self._listing.generation:
            return  # read before a write the copy in memory already holds
        keys = {a.key for a in listing.accounts}
        for gone in self._noted.keys() - keys:
            del self._noted[gone]
            self._quota_saves.forget(gone)
        accounts = [self._newest_quota(a) for a in listing.accounts]
        self._listing = replace(listing, accounts=accounts)

    def _newest_quota(self, account: Account) -> Account:
        # The database holds the last snapshot worth a write; memory may hold a newer one.
        noted = self._noted.get(account.key)
        if noted is None:
            return account
        snapshot, captured_at = noted
        if account.quota_captured_at is not None and account.quota_captured_at > captured_at:
            return account
        return _with_quota(account, snapshot, captured_at)

    async def check_outside_writes(self) -> None:
        """Reload when another connection committed since the last reload."""
        if self._listing is None:
            return  # nothing in memory yet; the first request reads everything
        if await self._worker.run(self.store.data_version) != self._listing.data_version:
            await self._reload_from_now()

    def start(self) -> None:
        """Start watching for other processes' writes; stop with `aclose()`."""
        if self._watcher is None:
            self._watcher = spawn(self._watch(), name="watch accounts")

    async def _watch(self) -> None:
        while True:
            await self._sleep(self._watch_interval)
            try:
                await self.check_outside_writes()
            except Exception:
                # A locked or busy database now and then must not end the watch.
                logger.warning("could not check the accounts for changes", exc_info=True)

    async def flush(self) -> None:
        """Wait until every write queued so far, and the reload under way, has finished."""
        pending = [*self._ordered_writes, *self._quota_writes]
        if self._reloading is not None:
            pending.append(self._reloading)
        if pending:
            await asyncio.wait(pending)

    async def aclose(self) -> None:
        """Stop watching and let queued writes land (before the store worker closes)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
        await self.flush()


def _with_quota(account: Account, snapshot: dict[str, Any], captured_at: int) -> Account:
    return replace(account, quota=snapshot, quota_captured_at=captured_at)


def _log_failure(task: asyncio.Task[Any]) -> None:
    # Retrieving the exception here also keeps asyncio from reporting it as never retrieved.
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.warning("%s failed: %r", task.get_name(), error)
