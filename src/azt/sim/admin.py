"""The `/_sim` admin routes: arm and clear faults, move usage, revoke tokens, inspect state.

For humans and for tests that run the simulator in another process; in-process tests use the
`SimState` methods these wrap.
"""

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from azt.sim.faults import Fault
from azt.sim.state import SimState
from azt.sim.tokens import SimAccount


def sim(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


async def _admin_json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as e:
        raise HTTPException(400, f"invalid JSON: {e}") from e
    if not isinstance(data, dict):
        raise HTTPException(400, "expected a JSON object")
    return data


def _admin_account(state: SimState, selector: dict[str, Any]) -> SimAccount:
    account_id, email = selector.get("account_id"), selector.get("email")
    if isinstance(account_id, str) and account_id in state.accounts:
        return state.accounts[account_id]
    if isinstance(email, str) and (account := state.account_by_email(email)) is not None:
        return account
    raise HTTPException(404, f"no sim account matches account_id={account_id!r} email={email!r}")


async def admin_set_fault(request: Request) -> Response:
    """Arm a fault: `{"account_id"|"email", "kind", "times"?, "queue"?, ...params}`."""
    state = sim(request)
    data = await _admin_json(request)
    account = _admin_account(state, data)
    queue = bool(data.pop("queue", False))
    data.pop("account_id", None)
    data.pop("email", None)
    try:
        fault = Fault.from_dict(data)
    except ValueError as e:
        raise HTTPException(400, str(e)) from e
    (state.add_fault if queue else state.set_fault)(account.account_id, fault)
    faults = [f.to_dict() for f in state.faults.peek(account.account_id)]
    return JSONResponse({"account_id": account.account_id, "faults": faults})


async def admin_clear_faults(request: Request) -> Response:
    """Clear every fault, or one account's (`?account_id=` or `?email=`)."""
    state = sim(request)
    selector = dict(request.query_params)
    if selector:
        state.clear_faults(_admin_account(state, selector).account_id)
    else:
        state.clear_faults()
    return JSONResponse({"cleared": True})


async def admin_usage(request: Request) -> Response:
    """Set reported usage: `{"account_id"|"email", "primary_used_percent"?, ...}`."""
    state = sim(request)
    data = await _admin_json(request)
    account = _admin_account(state, data)
    values = {k: v for k, v in data.items() if k not in ("account_id", "email")}
    try:
        usage = state.set_usage(account.account_id, **values)
    except ValueError as e:
        raise HTTPException(400, str(e)) from e
    return JSONResponse({"account_id": account.account_id, **usage.__dict__})


async def admin_revoke(request: Request) -> Response:
    """Revoke the current refresh token: `{"account_id"|"email", "code"?}`."""
    state = sim(request)
    data = await _admin_json(request)
    account = _admin_account(state, data)
    try:
        state.revoke_refresh_token(
            account.account_id, data.get("code", "refresh_token_invalidated")
        )
    except (KeyError, ValueError) as e:
        raise HTTPException(400, str(e)) from e
    return JSONResponse({"account_id": account.account_id, "revoked": True})


async def admin_state(request: Request) -> Response:
    return JSONResponse(sim(request).snapshot())


ROUTES = [
    Route("/_sim/faults", admin_set_fault, methods=["POST"]),
    Route("/_sim/faults", admin_clear_faults, methods=["DELETE"]),
    Route("/_sim/usage", admin_usage, methods=["POST"]),
    Route("/_sim/revoke", admin_revoke, methods=["POST"]),
    Route("/_sim/state", admin_state, methods=["GET"]),
]
