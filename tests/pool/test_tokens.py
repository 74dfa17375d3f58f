"""Token refresh against the simulator: single flight, rotation on disk first, dead logins."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from azt.config import Settings
from azt.pool.accounts import Account, AccountStatus
from azt.pool.tokens import RefreshUnavailable, ReloginRequired, TokenManager
from azt.store.accounts import AccountStore
from azt.store.worker import StoreWorker
from support.sim import Hold


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as c:
        yield c


def pool(sim: Any, store: AccountStore, *, access_ttl: int, email: str = "a@example.com") -> Any:
    """Add a sim account to azt's store with tokens the sim issued; returns the sim account."""
    store.upsert(sim.state.pool_account(email, access_ttl=access_ttl))
    return sim.state.account_by_email(email)


def stored(store: AccountStore) -> Account:
    account = store.default()
    assert account is not None
    return account


def manager(
    store: AccountStore,
    worker: StoreWorker,
    client: httpx.AsyncClient,
    settings: Settings,
) -> TokenManager:
    return TokenManager(store, worker, client, settings)


async def test_burst_on_expired_token_refreshes_once(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """Twenty concurrent callers with an expired token cause one refresh and share its result."""
    sim_account = pool(sim, store, access_ttl=0)
    sim.state.refresh_delay = 0.2
    account = stored(store)
    tokens = manager(store, worker, client, sim.settings)

    results = await asyncio.gather(*(tokens.fresh(account) for _ in range(20)))

    assert sim.state.refresh_calls == 1
    assert len({r.access_token for r in results}) == 1
    assert results[0].access_token != account.access_token
    on_disk = stored(store)
    assert on_disk.access_token == results[0].access_token
    assert on_disk.refresh_token == sim.state.tokens.current_refresh_token(sim_account.account_id)
    assert on_disk.refresh_token != account.refresh_token
    assert not on_disk.needs_refresh(time.time(), sim.settings.refresh_skew_seconds)


async def test_valid_token_is_returned_untouched(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """A token valid beyond the skew is handed back without any call."""
    pool(sim, store, access_ttl=3600)
    account = stored(store)
    assert await manager(store, worker, client, sim.settings).fresh(account) is account
    assert sim.state.refresh_calls == 0


@pytest.mark.parametrize(("skew", "refreshes"), [(300, 1), (60, 0)])
async def test_proactive_refresh_inside_skew(
    sim: Any,
    store: AccountStore,
    worker: StoreWorker,
    client: httpx.AsyncClient,
    skew: int,
    refreshes: int,
) -> None:
    """A token with 100 s left is refreshed under a 300 s skew but not under a 60 s one."""
    pool(sim, store, access_ttl=100)
    settings = sim.settings.model_copy(update={"refresh_skew_seconds": skew})
    await manager(store, worker, client, settings).fresh(stored(store))
    assert sim.state.refresh_calls == refreshes


async def test_force_refreshes_a_valid_token_once(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """Concurrent forced refreshes of the same rejected token make one call; a newer token
    presented with force is refreshed again."""
    pool(sim, store, access_ttl=3600)
    sim.state.refresh_delay = 0.1
    account = stored(store)
    tokens = manager(store, worker, client, sim.settings)

    results = await asyncio.gather(*(tokens.fresh(account, force=True) for _ in range(10)))
    assert sim.state.refresh_calls == 1
    assert {r.access_token for r in results} == {stored(store).access_token}
    assert results[0].access_token != account.access_token

    await tokens.fresh(results[0], force=True)
    assert sim.state.refresh_calls == 2


async def test_reuse_detected_marks_relogin(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """When another program spends the refresh token first, the account needs a new login,
    and later calls fail without contacting the auth server."""
    pool(sim, store, access_ttl=0)
    account = stored(store)
    # A second Codex install sharing this login refreshes behind azt's back.
    stolen = await client.post(
        f"{sim.url}/oauth/token",
        json={
            "client_id": sim.settings.oauth_client_id,
            "grant_type": "refresh_token",
            "refresh_token": account.refresh_token,
        },
    )
    assert stolen.status_code == 200
    tokens = manager(store, worker, client, sim.settings)

    with pytest.raises(ReloginRequired) as caught:
        await tokens.fresh(account)
    assert "refresh_token_reused" in caught.value.reason
    assert "azt login" in caught.value.reason
    assert account.refresh_token not in str(caught.value)
    assert caught.value.account.status is AccountStatus.RELOGIN_REQUIRED
    marked = stored(store)
    assert marked.status is AccountStatus.RELOGIN_REQUIRED
    assert marked.status_reason == caught.value.reason
    calls = sim.state.refresh_calls

    with pytest.raises(ReloginRequired):
        await tokens.fresh(account)  # a stale snapshot still saying "ok"
    with pytest.raises(ReloginRequired):
        await tokens.fresh(marked)
    assert sim.state.refresh_calls == calls


@pytest.mark.parametrize(
    ("code", "words"),
    [("refresh_token_invalidated", "revoked"), ("refresh_token_expired", "expired")],
)
async def test_revoked_token_marks_relogin(
    sim: Any,
    store: AccountStore,
    worker: StoreWorker,
    client: httpx.AsyncClient,
    code: str,
    words: str,
) -> None:
    """A revoked or expired refresh token is permanent: relogin required, with the reason."""
    sim_account = pool(sim, store, access_ttl=0)
    sim.state.revoke_refresh_token(sim_account.account_id, code=code)
    with pytest.raises(ReloginRequired, match=words):
        await manager(store, worker, client, sim.settings).fresh(stored(store))
    assert stored(store).status is AccountStatus.RELOGIN_REQUIRED


async def test_unknown_refresh_token_marks_relogin(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """invalid_grant (a token the server never issued) is permanent too."""
    pool(sim, store, access_ttl=0)
    account = replace(stored(store), refresh_token="bogus")
    store.save_tokens(account)
    with pytest.raises(ReloginRequired, match="invalid_grant"):
        await manager(store, worker, client, sim.settings).fresh(account)


async def test_server_error_is_transient(
    sim: Any, store: AccountStore, worker: StoreWorker
) -> None:
    """A 5xx from the token endpoint leaves the account usable and its tokens untouched."""
    pool(sim, store, access_ttl=0)
    before = stored(store)

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="upstream connect error")

    async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as failing:
        with pytest.raises(RefreshUnavailable, match="HTTP 503") as caught:
            await manager(store, worker, failing, sim.settings).fresh(before)
    assert before.refresh_token not in str(caught.value)
    after = stored(store)
    assert (after.status, after.refresh_token) == (AccountStatus.OK, before.refresh_token)


async def test_unreachable_auth_server_is_transient(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """A connection failure is transient as well."""
    pool(sim, store, access_ttl=0)
    settings = sim.settings.model_copy(update={"auth_base_url": "http://127.0.0.1:9"})
    with pytest.raises(RefreshUnavailable, match="unreachable"):
        await manager(store, worker, client, settings).fresh(stored(store))
    assert stored(store).status is AccountStatus.OK


async def test_cancelled_caller_still_persists_rotation(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """A caller that gives up mid-refresh does not lose the rotated token or unlock early."""
    pool(sim, store, access_ttl=0)
    sim.state.refresh_delay = 0.01
    hold = Hold.on(sim.state)  # the auth server keeps the refresh until released
    account = stored(store)
    tokens = manager(store, worker, client, sim.settings)

    impatient = asyncio.ensure_future(tokens.fresh(account))
    await hold.holding.wait()  # the refresh reached the auth server
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    patient = asyncio.ensure_future(tokens.fresh(account))
    hold.release()
    renewed = await patient  # waits for the refresh already under way

    assert sim.state.refresh_calls == 1
    assert renewed.refresh_token == stored(store).refresh_token != account.refresh_token


async def test_removed_account_needs_login(
    sim: Any, store: AccountStore, worker: StoreWorker, client: httpx.AsyncClient
) -> None:
    """An account removed while a caller still holds it cannot be refreshed."""
    pool(sim, store, access_ttl=0)
    account = stored(store)
    store.remove(account.key)
    with pytest.raises(ReloginRequired, match="removed"):
        await manager(store, worker, client, sim.settings).fresh(account)
    assert sim.state.refresh_calls == 0
