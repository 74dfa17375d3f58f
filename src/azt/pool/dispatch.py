"""Send one request upstream on behalf of the pool: pick, refresh, retry, fail over.

Accounts are ranked by the scheduler; a request holds a concurrency slot on the account that
serves it until its reply ends. An attempt is abandoned for the next account on 401 (after one
refresh), 403, 429, 5xx, transport errors, silence, and an overload event inside a 200 stream,
as long as no content has reached the client. Attempts are bounded and share one deadline.
Usage and rate limits bench the account until their reset, in memory and on disk.
Accounts come from the in-memory `AccountBook`: the common path touches no database.
"""

import itertools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

from azt.config import Settings
from azt.exchange import Exchange
from azt.pool.accounts import Account
from azt.pool.book import AccountBook
from azt.pool.failover import (
    Failure,
    Verdict,
    client_error,
    judge_status,
    no_capacity,
    usage_limit,
)
from azt.pool.failover import is_overload_event as _is_overload
from azt.pool.quota import quota_from_headers
from azt.pool.scheduler import Strategy, cooldown_after, rank, unavailable_reason
from azt.pool.slots import Slots
from azt.pool.stream import StreamTracker
from azt.pool.tokens import TokenError, TokenManager
from azt.pool.upstream import (
    Upstream,
    UpstreamCall,
    UpstreamError,
    UpstreamReply,
    UpstreamTimeout,
)

logger = logging.getLogger(__name__)

ERROR_BODY_LIMIT = 64 * 1024
# The Codex backend's own header naming the turn a reply belongs to (owned by one account).
TURN_STATE_HEADER = "x-codex-turn-state"


@dataclass(eq=False)  # compared and hashed by identity: the pool tracks open streams
class Opened:
    """A live upstream reply that has passed every pre-content check."""

    account: Account
    response: UpstreamReply
    chunks: AsyncIterator[bytes]
    prelude: bytes
    tracker: StreamTracker
    failures: list[Failure]
    release: Callable[[], None] = lambda: None  # frees the account's concurrency slot


class _Lru(OrderedDict[str, str]):
    def __init__(self, limit: int) -> None:
        super().__init__()
        self._limit = limit

    def remember(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self._limit:
            self.popitem(last=False)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        upstream: Upstream,
        tokens: TokenManager,
        book: AccountBook,
        slots: Slots,
    ) -> None:
        self._settings = settings
        self._upstream = upstream
        self._tokens = tokens
        self._book = book
        self.slots = slots
        self._strategy = Strategy(settings.pool_strategy)
        self._turn = itertools.count()
        self._affinity = _Lru(10_000)  # affinity key -> account key
        self._owners = _Lru(10_000)  # response id or turn state -> account key

    async def open(
        self, call: UpstreamCall, exchange: Exchange, *, spread: set[str] | None = None
    ) -> Opened:
        """An open reply from the best account for `exchange`; accounts in `spread` last.

        The exchange says who may serve (affinity, ownership, plan) and is told every
        attempt and who served. `spread` lets sibling requests (an image request with
        `n > 1`) land on different accounts while any other is free.
        """
        deadline = time.monotonic() + self._settings.pool_deadline_seconds
        accounts = await self._book.accounts()
        failures: list[Failure] = []
        tried: set[str] = set()
        needs_paid = exchange.needs_paid
        for _ in range(self._settings.pool_max_attempts):
            now = time.time()
            candidates = self._candidates(accounts, call, exchange, tried, now)
            if spread:
                candidates.sort(key=lambda a: a.key in spread)
            if not candidates:
                break
            account = await self.slots.take(candidates, deadline)
            tried.add(account.key)
            exchange.note_attempt()
            if spread is not None:
                spread.add(account.key)  # siblings starting now should look elsewhere
            try:
                opened = await self._try_account(account, call, failures, deadline)
            except BaseException:
                self.slots.release(account.key)
                raise
            if opened is not None:
                opened.release = _once(self.slots.release, account.key)
                exchange.note_served_by(account.key)
                self._remember(exchange, opened)
                return opened
            self.slots.release(account.key)
            accounts = await self._bench(accounts, account, failures[-1])
        raise no_capacity(accounts, failures, time.time(), needs_paid=needs_paid)

    def _candidates(
        self,
        accounts: list[Account],
        call: UpstreamCall,
        exchange: Exchange,
        tried: set[str],
        now: float,
    ) -> list[Account]:
        needs_paid = exchange.needs_paid
        usable = [
            a
            for a in accounts
            if a.key not in tried and unavailable_reason(a, now, needs_paid=needs_paid) is None
        ]
        owner = self._owner_of(call, exchange)
        if owner is not None:
            # The upstream keeps this conversation on one account: no other may take it.
            return [a for a in usable if a.key == owner]
        preferred = self._affinity.get(exchange.affinity or "")
        return rank(usable, self._strategy, now=now, turn=next(self._turn), preferred=preferred)

    def _owner_of(self, call: UpstreamCall, exchange: Exchange) -> str | None:
        for token in (exchange.owner, call.header(TURN_STATE_HEADER)):
            if token and token in self._owners:
                return self._owners[token]
        return None

    def _remember(self, exchange: Exchange, opened: Opened) -> None:
        key = opened.account.key
        if exchange.affinity:
            self._affinity.remember(exchange.affinity, key)
        turn_state = opened.response.headers.get(TURN_STATE_HEADER)
        if turn_state:
            self._owners.remember(turn_state, key)

    def remember_response(self, response_id: str, account_key: str) -> None:
        """Record which account produced a response (for requests that continue it)."""
        self._owners.remember(response_id, account_key)

    async def _bench(
        self, accounts: list[Account], account: Account, failure: Failure
    ) -> list[Account]:
        """Apply the cooldown a failure calls for, to this request now and on disk off the loop.

        Requests that start after this one queued the write wait for it (see AccountBook).
        """
        decided = cooldown_after(
            failure.status,
            usage_limit(failure.body) or _error_of(failure),
            failure.retry_after,
            time.time(),
        )
        if decided is None:
            return accounts
        until, reason = decided
        logger.info("account %s cools down until %s (%s)", account.label, int(until), reason)
        self._book.write(self._book.store.set_cooldown, account.key, until, reason)
        return [
            replace(a, cooldown_until=until, cooldown_reason=reason) if a.key == account.key else a
            for a in accounts
        ]

    async def _try_account(
        self, account: Account, call: UpstreamCall, failures: list[Failure], deadline: float
    ) -> Opened | None:
        refreshed = False
        while True:
            try:
                account = await self._tokens.fresh(account, force=refreshed)
            except TokenError as e:
                failures.append(Failure(account.label, None, e.reason))
                return None
            try:
                response = await self._upstream.send(account, call, deadline)
            except UpstreamTimeout:
                failures.append(Failure(account.label, None, "the connection timed out"))
                return None
            except UpstreamError as e:
                failures.append(Failure(account.label, None, e.reason))
                return None
            self._record_quota(account, response)
            verdict = judge_status(response.status_code, refreshed=refreshed)
            if verdict is Verdict.REFRESH:
                await response.aclose()
                refreshed = True
                continue
            if verdict is Verdict.NEXT_ACCOUNT:
                body = await response.read_capped(ERROR_BODY_LIMIT)
                logger.info(
                    "account %s answered %s; trying the next", account.label, response.status_code
                )
                failures.append(
                    Failure(
                        account.label,
                        response.status_code,
                        f"HTTP {response.status_code}",
                        body,
                        response.headers.get("retry-after"),
                    )
                )
                return None
            if response.status_code >= 400:
                body = await response.read_capped(ERROR_BODY_LIMIT)
                raise client_error(response.status_code, body)
            return await self._admit(account, response, call, failures)

    async def _admit(
        self,
        account: Account,
        response: UpstreamReply,
        call: UpstreamCall,
        failures: list[Failure],
    ) -> Opened | None:
        """Read a streamed reply up to its first content event; fail over on overload."""
        chunks = response.chunks
        tracker = StreamTracker()
        if not call.stream:
            return Opened(account, response, chunks, b"", tracker, failures)
        prelude = b""
        try:
            async for chunk in chunks:
                prelude += tracker.feed(chunk)
                if tracker.last_event is not None and _is_overload(tracker.last_event):
                    await response.aclose()
                    failures.append(Failure(account.label, 503, "overloaded inside the stream"))
                    return None
                if tracker.saw_content or tracker.terminal:
                    break
        except UpstreamTimeout:
            await response.aclose()
            failures.append(Failure(account.label, None, "the stream timed out before content"))
            return None
        except UpstreamError as e:
            await response.aclose()
            failures.append(Failure(account.label, None, e.reason))
            return None
        return Opened(account, response, chunks, prelude, tracker, failures)

    def _record_quota(self, account: Account, response: UpstreamReply) -> None:
        snapshot = quota_from_headers(response.headers)
        if snapshot is None:
            return
        self._book.note_quota(account.key, snapshot, int(time.time()))


def _once(release: Callable[[str], None], key: str) -> Callable[[], None]:
    done = False

    def release_once() -> None:
        nonlocal done
        if not done:
            done = True
            release(key)

    return release_once


def _error_of(failure: Failure) -> dict[str, object] | None:
    try:
        error = json.loads(failure.body).get("error") if failure.body else None
    except (ValueError, AttributeError):
        return None
    return error if isinstance(error, dict) else None
