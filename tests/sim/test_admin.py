"""The /_sim admin routes, for humans and out-of-process tests."""

from collections.abc import Callable
from typing import Any

import httpx

from azt.sim.faults import Fault
from azt.sim.state import SimState
from azt.sim.tokens import SimAccount

RESPONSES = "/backend-api/codex/responses"


async def test_set_fault_by_email(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Callable[..., dict[str, Any]],
) -> None:
    """POST /_sim/faults arms a fault by email with its parameters."""
    reply = await client.post(
        "/_sim/faults",
        json={"email": "DEMO@example.com", "kind": "server_error", "times": 1, "status": 502},
    )
    assert reply.status_code == 200
    assert reply.json() == {
        "account_id": account.account_id,
        "faults": [{"kind": "server_error", "times": 1, "status": 502}],
    }
    assert (
        await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    ).status_code == 502
    assert (
        await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    ).status_code == 200


async def test_queue_and_clear(
    client: httpx.AsyncClient, state: SimState, account: SimAccount
) -> None:
    """queue:true appends; DELETE clears one account or all."""
    other = state.add_account("other@example.com")
    await client.post("/_sim/faults", json={"account_id": account.account_id, "kind": "stall"})
    await client.post(
        "/_sim/faults", json={"account_id": account.account_id, "kind": "keepalive", "queue": True}
    )
    await client.post("/_sim/faults", json={"account_id": other.account_id, "kind": "keepalive"})
    assert [f.kind for f in state.faults.peek(account.account_id)] == ["stall", "keepalive"]
    await client.delete("/_sim/faults", params={"email": "other@example.com"})
    assert state.faults.peek(other.account_id) == []
    assert len(state.faults.peek(account.account_id)) == 2
    assert (await client.delete("/_sim/faults")).json() == {"cleared": True}
    assert state.faults.peek(account.account_id) == []


async def test_fault_errors(client: httpx.AsyncClient, account: SimAccount) -> None:
    """Unknown accounts are 404; bad kinds, parameters and bodies are 400."""
    missing = await client.post("/_sim/faults", json={"email": "x@y", "kind": "stall"})
    assert missing.status_code == 404
    bad_kind = await client.post("/_sim/faults", json={"email": account.email, "kind": "nope"})
    assert bad_kind.status_code == 400 and "unknown fault kind" in bad_kind.json()["detail"]
    bad_param = await client.post(
        "/_sim/faults", json={"email": account.email, "kind": "stall", "size": 1}
    )
    assert bad_param.status_code == 400
    assert (await client.post("/_sim/faults", content=b"[")).status_code == 400
    assert (await client.post("/_sim/faults", json=[1])).status_code == 400


async def test_state_snapshot(
    client: httpx.AsyncClient, state: SimState, account: SimAccount, tokens: dict[str, Any]
) -> None:
    """GET /_sim/state lists accounts and counters, never tokens."""
    state.set_fault(account.account_id, Fault("stall", times=2))
    reply = await client.get("/_sim/state")
    snapshot = reply.json()
    assert snapshot["accounts"] == [
        {
            "account_id": account.account_id,
            "user_id": account.user_id,
            "email": "demo@example.com",
            "plan": "plus",
            "faults": [{"kind": "stall", "times": 2, "seconds": 1.0, "remaining": 2}],
        }
    ]
    assert snapshot["refresh_calls"] == 0 and snapshot["requests"] == 0
    assert tokens["refresh_token"] not in reply.text
    assert tokens["access_token"] not in reply.text


async def test_usage_and_revoke(
    client: httpx.AsyncClient, state: SimState, account: SimAccount, tokens: dict[str, Any]
) -> None:
    """POST /_sim/usage moves the usage numbers; POST /_sim/revoke revokes the refresh token."""
    reply = await client.post(
        "/_sim/usage", json={"email": account.email, "secondary_used_percent": 55}
    )
    assert reply.json()["secondary_used_percent"] == 55
    assert state.usage[account.account_id].secondary_used_percent == 55
    bad = await client.post("/_sim/usage", json={"email": account.email, "nope": 1})
    assert bad.status_code == 400
    await client.post(
        "/_sim/revoke", json={"email": account.email, "code": "refresh_token_expired"}
    )
    refresh = {
        "grant_type": "refresh_token",
        "client_id": state.client_id,
        "refresh_token": tokens["refresh_token"],
    }
    reply = await client.post("/oauth/token", json=refresh)
    assert reply.json()["error"]["code"] == "refresh_token_expired"
    bad = await client.post("/_sim/revoke", json={"email": account.email, "code": "nope"})
    assert bad.status_code == 400
