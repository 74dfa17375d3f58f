"""The OAuth side: authorize + code exchange with PKCE, refresh rotation, device codes."""

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from azt.pool.jwt import expiry, identity_from_id_token
from azt.sim.app import create_app
from azt.sim.state import SimState
from azt.sim.tokens import DEFAULT_CLIENT_ID, SimAccount, new_pkce_verifier, pkce_challenge

REDIRECT = "http://localhost:1455/auth/callback"
TOKEN = "/oauth/token"


def authorize_params(verifier: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid profile email offline_access",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "state": "xyz",
    }
    params.update(extra)
    return params


async def login(client: httpx.AsyncClient, verifier: str, **extra: str) -> dict[str, str]:
    reply = await client.get("/oauth/authorize", params=authorize_params(verifier, **extra))
    assert reply.status_code == 302, reply.text
    location = urlsplit(reply.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location._replace(query="").geturl() == REDIRECT
    return query


def exchange_form(code: str, verifier: str, redirect: str = REDIRECT) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "client_id": DEFAULT_CLIENT_ID,
        "code_verifier": verifier,
    }


async def test_browser_login(
    client: httpx.AsyncClient, state: SimState, account: SimAccount
) -> None:
    """Authorize redirects back with a code and state; the code exchange returns tokens."""
    verifier = new_pkce_verifier()
    query = await login(client, verifier)
    assert query["state"] == "xyz"
    reply = await client.post(TOKEN, data=exchange_form(query["code"], verifier))
    assert reply.status_code == 200
    tokens = reply.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    identity = identity_from_id_token(tokens["id_token"])
    assert (identity.email, identity.chatgpt_account_id) == (account.email, account.account_id)
    headers = {"authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/backend-api/wham/usage", headers=headers)).status_code == 200
    again = await client.post(TOKEN, data=exchange_form(query["code"], verifier))
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_login_hint_and_redirect_query(client: httpx.AsyncClient, state: SimState) -> None:
    """login_hint picks the account; a redirect_uri with a query keeps it."""
    state.add_account("first@example.com")
    second = state.add_account("second@example.com", plan="pro")
    verifier = new_pkce_verifier()
    redirect = "http://localhost:1455/auth/callback?keep=1"
    params = authorize_params(verifier, redirect_uri=redirect, login_hint="second@example.com")
    reply = await client.get("/oauth/authorize", params=params)
    query = parse_qs(urlsplit(reply.headers["location"]).query)
    assert query["keep"] == ["1"]
    form = exchange_form(query["code"][0], verifier, redirect)
    tokens = (await client.post(TOKEN, data=form)).json()
    assert identity_from_id_token(tokens["id_token"]).chatgpt_account_id == second.account_id


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"response_type": "token"}, "response_type"),
        ({"client_id": "app_other"}, "Unknown client_id"),
        ({"code_challenge": ""}, "code_challenge"),
        ({"code_challenge_method": "plain"}, "S256"),
        ({"state": ""}, "state"),
        ({"login_hint": "who@example.com"}, "who@example.com"),
    ],
)
async def test_authorize_errors(
    client: httpx.AsyncClient, account: SimAccount, change: dict[str, str], fragment: str
) -> None:
    """Bad authorize requests get a 400 HTML page naming the problem."""
    reply = await client.get("/oauth/authorize", params=authorize_params("v", **change))
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/html")
    assert fragment in reply.text


async def test_authorize_without_accounts(client: httpx.AsyncClient) -> None:
    """With no accounts there is nobody to log in as."""
    reply = await client.get("/oauth/authorize", params=authorize_params("v"))
    assert reply.status_code == 400 and "The simulator has no accounts." in reply.text


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"code_verifier": "wrong"}, 400, "invalid_grant"),
        ({"redirect_uri": "http://localhost:1/else"}, 400, "invalid_grant"),
        ({"client_id": "app_other"}, 401, "invalid_client"),
        ({"client_id": ""}, 400, "invalid_request"),
        ({"code_verifier": ""}, 400, "invalid_request"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
async def test_code_exchange_errors(
    client: httpx.AsyncClient, account: SimAccount, change: dict[str, str], status: int, error: str
) -> None:
    """The exchange checks verifier, redirect, client and grant type."""
    verifier = new_pkce_verifier()
    query = await login(client, verifier)
    reply = await client.post(TOKEN, data={**exchange_form(query["code"], verifier), **change})
    assert (reply.status_code, reply.json()["error"]) == (status, error)


def refresh_json(token: str) -> dict[str, Any]:
    return {"client_id": DEFAULT_CLIENT_ID, "grant_type": "refresh_token", "refresh_token": token}


async def test_refresh_rotates(
    client: httpx.AsyncClient, state: SimState, account: SimAccount, tokens: dict[str, Any]
) -> None:
    """A JSON refresh rotates all three tokens; the old refresh token is then reused (401)."""
    state.access_ttl = 120
    reply = await client.post(TOKEN, json=refresh_json(tokens["refresh_token"]))
    assert reply.status_code == 200
    fresh = reply.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["expires_in"] == 120
    assert expiry(fresh["access_token"]) == pytest.approx(
        expiry(fresh["id_token"]) - 3600 + 120, abs=2
    )
    headers = {"authorization": f"Bearer {fresh['access_token']}"}
    assert (await client.get("/backend-api/codex/models", headers=headers)).status_code == 200
    reused = await client.post(TOKEN, json=refresh_json(tokens["refresh_token"]))
    assert reused.status_code == 401
    assert reused.json() == {
        "error": {
            "message": "Your refresh token has already been used to generate a new access token. "
            "Please try signing in again.",
            "type": "invalid_request_error",
            "param": None,
            "code": "refresh_token_reused",
        }
    }
    assert state.refresh_calls == 2


async def test_refresh_form_body(
    client: httpx.AsyncClient, state: SimState, tokens: dict[str, Any]
) -> None:
    """A form-encoded refresh (with scope, as some peers send) works the same."""
    form = {**refresh_json(tokens["refresh_token"]), "scope": "openid profile email"}
    reply = await client.post(TOKEN, data=form)
    assert reply.status_code == 200 and reply.json()["refresh_token"].startswith("rt_sim_")


async def test_expired_access_token_then_refresh(
    client: httpx.AsyncClient, state: SimState, account: SimAccount
) -> None:
    """An already-expired access token is refused until refreshed."""
    tokens = state.issue_tokens(account, access_ttl=0)
    stale = {"authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/backend-api/wham/usage", headers=stale)).status_code == 401
    fresh = (await client.post(TOKEN, json=refresh_json(tokens["refresh_token"]))).json()
    headers = {"authorization": f"Bearer {fresh['access_token']}"}
    assert (await client.get("/backend-api/wham/usage", headers=headers)).status_code == 200


async def test_concurrent_refresh_race(
    client: httpx.AsyncClient, state: SimState, tokens: dict[str, Any]
) -> None:
    """Two refreshes racing with one token: exactly one wins, the other is reused."""
    state.refresh_delay = 0.05
    replies = await asyncio.gather(
        *(client.post(TOKEN, json=refresh_json(tokens["refresh_token"])) for _ in range(2))
    )
    assert sorted(r.status_code for r in replies) == [200, 401]
    assert state.refresh_calls == 2


@pytest.mark.parametrize("code", ["refresh_token_invalidated", "refresh_token_expired"])
async def test_revoked_refresh_token(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    tokens: dict[str, Any],
    code: str,
) -> None:
    """A revoked refresh token fails with 401 and the revocation code."""
    state.revoke_refresh_token(account.account_id, code=code)
    reply = await client.post(TOKEN, json=refresh_json(tokens["refresh_token"]))
    assert reply.status_code == 401
    error = reply.json()["error"]
    assert (error["code"], error["type"]) == (code, "invalid_request_error")
    assert "sign" in error["message"]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (refresh_json("rt_unknown"), 400, "invalid_grant"),
        ({**refresh_json("x"), "client_id": "nope"}, 401, "invalid_client"),
        ({"client_id": DEFAULT_CLIENT_ID, "grant_type": "refresh_token"}, 400, "invalid_request"),
    ],
)
async def test_refresh_errors(
    client: httpx.AsyncClient, state: SimState, body: dict[str, Any], status: int, error: str
) -> None:
    """Unknown tokens, unknown clients and missing tokens are refused (and still counted)."""
    reply = await client.post(TOKEN, json=body)
    assert (reply.status_code, reply.json()["error"]) == (status, error)
    assert state.refresh_calls == 1


async def test_unreadable_token_request(client: httpx.AsyncClient) -> None:
    """A body that is neither JSON nor a form is a 400."""
    reply = await client.post(
        TOKEN, content=b"{broken", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_request"


DEVICE = "/api/accounts/deviceauth"


async def test_device_code_login(client: httpx.AsyncClient, state: SimState) -> None:
    """Device login: usercode, pending polls, approval, then the code exchange."""
    state.add_account("first@example.com")
    chosen = state.add_account("chosen@example.com")
    state.device_login_email = "chosen@example.com"
    state.device_pending_polls = 2
    start = (await client.post(f"{DEVICE}/usercode", json={"client_id": DEFAULT_CLIENT_ID})).json()
    assert start["interval"] == "0"
    poll = {"device_auth_id": start["device_auth_id"], "user_code": start["user_code"]}
    for _ in range(2):
        pending = await client.post(f"{DEVICE}/token", json=poll)
        assert (pending.status_code, pending.json()) == (403, {"error": "authorization_pending"})
    approved = await client.post(f"{DEVICE}/token", json=poll)
    assert approved.status_code == 200
    grant = approved.json()
    assert grant["code_challenge"] == pkce_challenge(grant["code_verifier"])
    form = exchange_form(
        grant["authorization_code"], grant["code_verifier"], "http://sim.test/deviceauth/callback"
    )
    tokens = (await client.post(TOKEN, data=form)).json()
    assert identity_from_id_token(tokens["id_token"]).email == chosen.email
    gone = await client.post(f"{DEVICE}/token", json=poll)
    assert gone.status_code == 400


async def test_device_code_defaults() -> None:
    """The interval is a string ("1" by default) and no account means pending forever."""
    state = SimState()
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as fresh:
        start = (
            await fresh.post(f"{DEVICE}/usercode", json={"client_id": DEFAULT_CLIENT_ID})
        ).json()
        assert start["interval"] == "1"
        poll = {"device_auth_id": start["device_auth_id"], "user_code": start["user_code"]}
        for _ in range(3):
            assert (await fresh.post(f"{DEVICE}/token", json=poll)).status_code == 403


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("usercode", {"client_id": "nope"}, 401),
        ("usercode", [], 400),
        ("token", {"device_auth_id": "nope", "user_code": "x"}, 400),
    ],
)
async def test_device_errors(
    client: httpx.AsyncClient, account: SimAccount, path: str, body: Any, status: int
) -> None:
    """Unknown clients and unknown device logins are refused."""
    assert (await client.post(f"{DEVICE}/{path}", json=body)).status_code == status
