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
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace

import httpx

from azt.config import Settings
from azt.errors import ApiError
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
from azt.pool.scheduler import (
    PAID_PLANS_EXCLUDED,
    Strategy,
    cooldown_after,
    rank,
    unavailable_reason,
)
from azt.pool.slots import Slots
from azt.pool.stream import StreamTracker
from azt.pool.tokens import TokenError, TokenManager
from azt.pool.upstream import join, request_headers, strip_image_tool
from azt.records.served import Served

logger = logging.getLogger(__name__)

ERROR_BODY_LIMIT = 64 * 1024
# Request headers the gateway's addons use to steer the pool (never forwarded upstream).
AFFINITY_HEADER = "x-azt-affinity"  # soft: keep a conversation on one account
OWNER_HEADER = "x-azt-owner"  # hard: a response id this request continues
NEEDS_HEADER = "x-azt-needs"  # "paid": only accounts on a paid plan
TURN_STATE_HEADER = "x-codex-turn-state"


@dataclass(frozen=True)
class UpstreamCall:
    method: str
    path: str  # relative to the Codex base URL, e.g. "/responses"
    headers: Mapping[str, str]
    body: bytes | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False  # an SSE reply: hold it until content arrives, then stream

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name), None)


@dataclass(eq=False)  # compared and hashed by identity: the pool tracks open streams
class Opened:
    """A live upstream reply that has passed every pre-content check."""

    account: Account
    response: httpx.Response
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
        client: httpx.AsyncClient,
        tokens: TokenManager,
        book: AccountBook,
        slots: Slots,
    ) -> None:
        self._settings = settings
        self._client = client
        self._tokens = tokens
        self._book = book
        self.slots = slots
        self._strategy = Strategy(settings.pool_strategy)
        self._turn = itertools.count()
        self._affinity = _Lru(10_000)  # affinity key -> account key
        self._owners = _Lru(10_000)  # response id or turn state -> account key

    async def open(
        self,
        call: UpstreamCall,
        *,
        spread: set[str] | None = None,
        served: Served | None = None,
    ) -> Opened:
        """An open reply from the best account; accounts in `spread` are tried last.

        `spread` lets sibling requests (an image request with `n > 1`) land on different
        accounts while any other is free. `served` is told every attempt and who served.
        """
        deadline = time.monotonic() + self._settings.pool_deadline_seconds
        accounts = await self._book.accounts()
        failures: list[Failure] = []
        tried: set[str] = set()
        needs_paid = call.header(NEEDS_HEADER) == "paid"
        for _ in range(self._settings.pool_max_attempts):
            now = time.time()
            candidates = self._candidates(accounts, call, tried, now, needs_paid)
            if spread:
                candidates.sort(key=lambda a: a.key in spread)
            if not candidates:
                break
            account = await self.slots.take(candidates, deadline)
            tried.add(account.key)
            if served is not None:
                served.attempts += 1
            if spread is not None:
                spread.add(account.key)  # siblings starting now should look elsewhere
            try:
                opened = await self._try_account(account, call, failures, deadline)
            except BaseException:
                self.slots.release(account.key)
                raise
            if opened is not None:
                opened.release = _once(self.slots.release, account.key)
                if served is not None:
                    served.accounts.append(account.key)
                self._remember(call, opened)
                return opened
            self.slots.release(account.key)
            accounts = await self._bench(accounts, account, failures[-1])
        raise no_capacity(accounts, failures, time.time(), needs_paid=needs_paid)

    def _candidates(
        self,
        accounts: list[Account],
        call: UpstreamCall,
        tried: set[str],
        now: float,
        needs_paid: bool,
    ) -> list[Account]:
        usable = [
            a
            for a in accounts
            if a.key not in tried and unavailable_reason(a, now, needs_paid=needs_paid) is None
        ]
        owner = self._owner_of(call)
        if owner is not None:
            # The upstream keeps this conversation on one account: no other may take it.
            return [a for a in usable if a.key == owner]
        preferred = self._affinity.get(call.header(AFFINITY_HEADER) or "")
        return rank(usable, self._strategy, now=now, turn=next(self._turn), preferred=preferred)

    def _owner_of(self, call: UpstreamCall) -> str | None:
        for token in (call.header(OWNER_HEADER), call.header(TURN_STATE_HEADER)):
            if token and token in self._owners:
                return self._owners[token]
        return None

    def _remember(self, call: UpstreamCall, opened: Opened) -> None:
        key = opened.account.key
        affinity = call.header(AFFINITY_HEADER)
        if affinity:
            self._affinity.remember(affinity, key)
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
                response = await self._send(account, call, deadline)
            except httpx.TimeoutException:
                failures.append(Failure(account.label, None, "the connection timed out"))
                return None
            except httpx.TransportError as e:
                failures.append(Failure(account.label, None, _transport_reason(e)))
                return None
            self._record_quota(account, response)
            verdict = judge_status(response.status_code, refreshed=refreshed)
            if verdict is Verdict.REFRESH:
                await response.aclose()
                refreshed = True
                continue
            if verdict is Verdict.NEXT_ACCOUNT:
                body = await _read_capped(response)
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
                body = await _read_capped(response)
                raise client_error(response.status_code, body)
            return await self._admit(account, response, call, failures)

    async def _admit(
        self,
        account: Account,
        response: httpx.Response,
        call: UpstreamCall,
        failures: list[Failure],
    ) -> Opened | None:
        """Read a streamed reply up to its first content event; fail over on overload."""
        chunks = response.aiter_bytes()
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
        except httpx.TimeoutException:
            await response.aclose()
            failures.append(Failure(account.label, None, "the stream timed out before content"))
            return None
        except httpx.TransportError as e:
            await response.aclose()
            failures.append(Failure(account.label, None, _transport_reason(e)))
            return None
        return Opened(account, response, chunks, prelude, tracker, failures)

    async def _send(self, account: Account, call: UpstreamCall, deadline: float) -> httpx.Response:
        # Waiting for the reply's headers counts against the request's shared deadline.
        remaining = max(0.1, deadline - time.monotonic())
        timeout = httpx.Timeout(
            connect=min(self._settings.upstream_connect_timeout, remaining),
            read=min(self._settings.upstream_idle_timeout, remaining),
            write=self._settings.upstream_idle_timeout,
            pool=min(self._settings.upstream_connect_timeout, remaining),
        )
        body = call.body
        if body and account.plan in PAID_PLANS_EXCLUDED:
            body = strip_image_tool(body)
        request = self._client.build_request(
            call.method,
            join(self._settings.codex_base_url, call.path),
            headers=request_headers(call.headers, account),
            content=body,
            params=dict(call.params) or None,
            timeout=timeout,
        )
        response = await self._client.send(request, stream=True)
        # Past the headers only the idle timeout applies: a long answer may stream for long.
        return response

    def _record_quota(self, account: Account, response: httpx.Response) -> None:
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


async def _read_capped(response: httpx.Response) -> bytes:
    body = b""
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    return body[:ERROR_BODY_LIMIT]


def _transport_reason(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text


__all__ = ["ApiError", "Dispatcher", "Opened", "UpstreamCall"]
