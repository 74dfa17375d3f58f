"""Keep access tokens fresh: proactive, single-flight refresh with the rotated token on disk first.

Error tree:

    TokenError              carries `.account` and a printable `.reason`
    ├── ReloginRequired     the refresh token is dead; only `azt login` helps
    └── RefreshUnavailable  the refresh failed for now (network, 5xx); try again later

Refresh tokens are single use. Two refreshes racing with the same token make the loser's
reply `refresh_token_reused` and can kill the login, so each account has one lock, and the
refresh runs in its own task: a caller that gives up (cancellation, client disconnect) can
neither release the lock early nor lose the rotated token between the reply and the write.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import httpx

from azt.config import Settings
from azt.pool.accounts import Account, AccountStatus
from azt.pool.book import AccountBook
from azt.pool.oauth import RefreshError, refresh_tokens
from azt.store.accounts import AccountStore
from azt.store.worker import StoreWorker
from azt.tasks import spawn

log = logging.getLogger(__name__)

_RELOGIN_HINTS = {
    "refresh_token_reused": "refresh token was already used (refresh_token_reused); another "
    "program sharing this login, such as a Codex install, probably refreshed it first",
    "refresh_token_expired": "refresh token expired (refresh_token_expired)",
    "refresh_token_invalidated": "refresh token was revoked (refresh_token_invalidated)",
    "invalid_grant": "the auth server does not know this refresh token (invalid_grant)",
}


class TokenError(Exception):
    """Raised when an account's tokens cannot be made usable; `reason` is safe to print."""

    def __init__(self, account: Account, reason: str) -> None:
        super().__init__(f"{account.label}: {reason}")
        self.account = account
        self.reason = reason


class ReloginRequired(TokenError):
    """Raised when the refresh token is dead; the account is marked relogin_required."""


class RefreshUnavailable(TokenError):
    """Raised when a refresh failed for a reason that may pass (network, server error)."""


def relogin_reason(error: RefreshError) -> str:
    hint = _RELOGIN_HINTS.get(error.code or "")
    if hint is None:
        hint = f"the auth server refused the refresh token (HTTP {error.status})"
    return f"{hint}; run `azt login` again"


class TokenManager:
    """Hands out accounts whose access token is valid for at least the refresh skew.

    Its writes (rotated tokens, a dead login) go through `book` when given, so requests that
    start after a write was queued see it; without one they go straight to the worker.
    """

    def __init__(
        self,
        store: AccountStore,
        worker: StoreWorker,
        client: httpx.AsyncClient,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        book: AccountBook | None = None,
    ) -> None:
        self._store = store
        self._worker = worker
        self._client = client
        self._settings = settings
        self._clock = clock
        self._book = book
        self._locks: dict[str, asyncio.Lock] = {}

    def _stale(self, account: Account) -> bool:
        return account.needs_refresh(self._clock(), self._settings.refresh_skew_seconds)

    async def fresh(self, account: Account, *, force: bool = False) -> Account:
        """`account` with a usable access token, refreshing it first when needed.

        `force=True` (after the backend rejected `account.access_token`) refreshes even a
        token that looks valid, unless someone else already replaced that token meanwhile.
        """
        if account.status is AccountStatus.RELOGIN_REQUIRED:
            raise ReloginRequired(account, account.status_reason or "run `azt login` again")
        if not force and not self._stale(account):
            return account
        task = spawn(self._under_lock(account, force), name=f"refresh {account.label}")
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            # The task finishes on its own; make sure its outcome is not reported as lost.
            task.add_done_callback(_observe)
            raise

    async def _under_lock(self, presented: Account, force: bool) -> Account:
        lock = self._locks.setdefault(presented.key, asyncio.Lock())
        async with lock:
            current = await self._worker.run(self._store.get, presented.key)
            if current is None:
                raise ReloginRequired(presented, "the account was removed; run `azt login`")
            if current.status is AccountStatus.RELOGIN_REQUIRED:
                raise ReloginRequired(current, current.status_reason or "run `azt login` again")
            replaced = current.access_token != presented.access_token
            if not self._stale(current) and (replaced or not force):
                return current  # another caller refreshed while we waited for the lock
            return await self._refresh(current)

    async def _refresh(self, account: Account) -> Account:
        try:
            tokens = await refresh_tokens(self._client, self._settings, account.refresh_token)
        except RefreshError as e:
            if e.permanent:
                reason = relogin_reason(e)
                raise ReloginRequired(await self._mark_relogin(account, reason), reason) from e
            log.warning("refresh for %s failed for now: %s", account.label, e)
            raise RefreshUnavailable(account, f"could not refresh the access token: {e}") from e
        if not tokens.access_token:
            raise RefreshUnavailable(account, "the refresh reply carried no access token")
        renewed = account.with_tokens(
            access_token=tokens.access_token,
            # Some servers do not rotate; then the old refresh token stays valid.
            refresh_token=tokens.refresh_token or account.refresh_token,
            id_token=tokens.id_token,
            now=int(self._clock()),
        )
        # On disk before anyone may use it: the old refresh token is already spent.
        await self._write(self._store.save_tokens, renewed)
        log.info("refreshed the access token of %s", account.label)
        return renewed

    async def _mark_relogin(self, account: Account, reason: str) -> Account:
        await self._write(
            self._store.mark_status, account.key, AccountStatus.RELOGIN_REQUIRED, reason
        )
        log.warning("%s needs a new login: %s", account.label, reason)
        return replace(account, status=AccountStatus.RELOGIN_REQUIRED, status_reason=reason)

    async def _write[**P](self, fn: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> None:
        if self._book is None:
            await self._worker.run(fn, *args, **kwargs)
        else:
            # Shielded: the write lands even when this refresh is cancelled (at shutdown).
            await asyncio.shield(self._book.write(fn, *args, **kwargs))


def _observe(task: asyncio.Task[Account]) -> None:
    if not task.cancelled():
        task.exception()
