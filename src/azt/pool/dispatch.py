"""Send one request upstream on behalf of the pool: pick, refresh, retry, fail over.

An attempt is abandoned for the next account on 401 (after one refresh), 403, 429, 5xx,
transport errors, and an overload event inside a 200 stream, as long as no content has reached
the client. What comes back is an open upstream reply plus the events already read from it.
"""

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import httpx

from azt.config import Settings
from azt.errors import ApiError
from azt.pool.accounts import Account
from azt.pool.chooser import AccountChooser
from azt.pool.failover import Failure, Verdict, client_error, exhausted, judge_status
from azt.pool.failover import is_overload_event as _is_overload
from azt.pool.quota import quota_from_headers
from azt.pool.stream import StreamTracker
from azt.pool.tokens import TokenError, TokenManager
from azt.pool.upstream import join, request_headers
from azt.store.accounts import AccountStore
from azt.store.worker import StoreWorker
from azt.tasks import spawn

logger = logging.getLogger(__name__)

ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class UpstreamCall:
    method: str
    path: str  # relative to the Codex base URL, e.g. "/responses"
    headers: Mapping[str, str]
    body: bytes | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False  # an SSE reply: hold it until content arrives, then stream


@dataclass(eq=False)  # compared and hashed by identity: the pool tracks open streams
class Opened:
    """A live upstream reply that has passed every pre-content check."""

    account: Account
    response: httpx.Response
    chunks: AsyncIterator[bytes]
    prelude: bytes
    tracker: StreamTracker
    failures: list[Failure]


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        chooser: AccountChooser,
        tokens: TokenManager,
        store: AccountStore,
        worker: StoreWorker,
    ) -> None:
        self._settings = settings
        self._client = client
        self._chooser = chooser
        self._tokens = tokens
        self._store = store
        self._worker = worker

    async def open(self, call: UpstreamCall) -> Opened:
        failures: list[Failure] = []
        for candidate in await self._chooser.candidates():
            opened = await self._try_account(candidate, call, failures)
            if opened is not None:
                return opened
        raise exhausted(failures)

    async def _try_account(
        self, account: Account, call: UpstreamCall, failures: list[Failure]
    ) -> Opened | None:
        refreshed = False
        while True:
            try:
                account = await self._tokens.fresh(account, force=refreshed)
            except TokenError as e:
                failures.append(Failure(account.label, None, e.reason))
                return None
            try:
                response = await self._send(account, call)
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

    async def _send(self, account: Account, call: UpstreamCall) -> httpx.Response:
        request = self._client.build_request(
            call.method,
            join(self._settings.codex_base_url, call.path),
            headers=request_headers(call.headers, account),
            content=call.body,
            params=dict(call.params) or None,
        )
        return await self._client.send(request, stream=True)

    def _record_quota(self, account: Account, response: httpx.Response) -> None:
        snapshot = quota_from_headers(response.headers)
        if snapshot is None:
            return
        spawn(
            self._worker.run(self._store.save_quota, account.key, snapshot, int(time.time())),
            name=f"save quota {account.key}",
        )


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
