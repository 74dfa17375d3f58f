"""The simulator's auth.openai.com: authorize (auto-approved), token grants, device codes.

`/oauth/authorize` approves at once instead of showing a login page: a simulator convenience,
so browser logins complete without a human. Everything else behaves as the real issuer does.
"""

import html
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from azt.sim.state import DeviceAuth, SimState
from azt.sim.tokens import GrantRejected, new_pkce_verifier, pkce_challenge

SCOPE = "openid profile email offline_access"


def _state(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _error_page(message: str) -> HTMLResponse:
    page = (
        "<!DOCTYPE html><html><head><title>azt sim: login failed</title></head>"
        f"<body><h1>Login failed</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(page, status_code=400)


async def grant_params(request: Request) -> dict[str, str]:
    """Token-endpoint parameters from a JSON body (codex-rs refresh) or a form body."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or raw.lstrip().startswith(b"{"):
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return {k: str(v) for k, v in data.items() if v is not None}
    return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))


def _client_problem(state: SimState, client_id: str | None) -> JSONResponse | None:
    if not client_id:
        return _oauth_error(400, "invalid_request", "Missing required parameter: client_id.")
    if client_id != state.client_id:
        return _oauth_error(401, "invalid_client", f"Unknown client_id {client_id!r}.")
    return None


def _token_reply(tokens: dict[str, Any]) -> JSONResponse:
    return JSONResponse({**tokens, "token_type": "Bearer", "scope": SCOPE})


async def token(request: Request) -> Response:
    state = _state(request)
    try:
        params = await grant_params(request)
    except (ValueError, UnicodeDecodeError) as e:
        return _oauth_error(400, "invalid_request", f"Unreadable request body: {e}")
    grant = params.get("grant_type")
    if grant == "refresh_token":
        return await refresh_grant(state, params)
    if grant == "authorization_code":
        return code_grant(state, params)
    return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}.")


async def refresh_grant(state: SimState, params: dict[str, str]) -> Response:
    state.refresh_calls += 1
    if state.refresh_delay > 0:
        await state.sleep(state.refresh_delay)
    problem = _client_problem(state, params.get("client_id"))
    if problem is not None:
        return problem
    refresh_token = params.get("refresh_token")
    if not refresh_token:
        return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token.")
    try:
        # Redeem and re-issue with no await in between: racing refreshes cannot both win.
        account_id = state.tokens.redeem_refresh_token(refresh_token)
    except GrantRejected as e:
        return JSONResponse(e.body, status_code=e.status)
    return _token_reply(state.issue_tokens(state.accounts[account_id]))


def code_grant(state: SimState, params: dict[str, str]) -> Response:
    problem = _client_problem(state, params.get("client_id"))
    if problem is not None:
        return problem
    missing = [n for n in ("code", "redirect_uri", "code_verifier") if not params.get(n)]
    if missing:
        return _oauth_error(400, "invalid_request", f"Missing required parameter: {missing[0]}.")
    try:
        account_id = state.tokens.redeem_code(
            params["code"],
            client_id=params["client_id"],
            redirect_uri=params["redirect_uri"],
            code_verifier=params["code_verifier"],
        )
    except GrantRejected as e:
        return JSONResponse(e.body, status_code=e.status)
    return _token_reply(state.issue_tokens(state.accounts[account_id]))


def _authorize_problem(state: SimState, query: dict[str, str]) -> str | None:
    if query.get("response_type") != "code":
        return "response_type must be 'code'."
    if query.get("client_id") != state.client_id:
        return f"Unknown client_id {query.get('client_id')!r}."
    for name in ("redirect_uri", "code_challenge", "state"):
        if not query.get(name):
            return f"Missing required parameter: {name}."
    if query.get("code_challenge_method", "S256") != "S256":
        return "code_challenge_method must be S256."
    return None


async def authorize(request: Request) -> Response:
    """Approve at once and redirect back with a one-time code (no login page)."""
    state = _state(request)
    query = dict(request.query_params)
    problem = _authorize_problem(state, query)
    if problem is not None:
        return _error_page(problem)
    hint = query.get("login_hint")
    account = state.account_by_email(hint) if hint else state.first_account()
    if account is None:
        missing = f"no account with email {hint}" if hint else "no accounts"
        return _error_page(f"The simulator has {missing}.")
    code = state.tokens.create_code(
        account.account_id,
        client_id=query["client_id"],
        redirect_uri=query["redirect_uri"],
        code_challenge=query["code_challenge"],
    )
    redirect = query["redirect_uri"]
    separator = "&" if "?" in redirect else "?"
    location = f"{redirect}{separator}{urlencode({'code': code, 'state': query['state']})}"
    return RedirectResponse(location, status_code=302)


async def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        data = json.loads(await request.body())
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def device_usercode(request: Request) -> Response:
    state = _state(request)
    data = await _json_object(request)
    if data is None:
        return _oauth_error(400, "invalid_request", "Expected a JSON object.")
    client_id = data.get("client_id")
    problem = _client_problem(state, client_id if isinstance(client_id, str) else None)
    if problem is not None:
        return problem
    number = state.next_device_number()
    device = DeviceAuth(
        device_auth_id=f"deviceauth_sim{number:06d}",
        user_code=f"SIMU-{number:04d}",
        client_id=state.client_id,
    )
    state.device_auths[device.device_auth_id] = device
    return JSONResponse(
        {
            "device_auth_id": device.device_auth_id,
            "user_code": device.user_code,
            "interval": state.device_interval,
        }
    )


async def device_token(request: Request) -> Response:
    """Pending for `device_pending_polls` polls, then approved by the chosen account."""
    state = _state(request)
    data = await _json_object(request) or {}
    device = state.device_auths.get(str(data.get("device_auth_id")))
    if device is None or data.get("user_code") != device.user_code:
        return _oauth_error(400, "invalid_request", "Unknown device_auth_id or user_code.")
    email = state.device_login_email
    account = state.account_by_email(email) if email else state.first_account()
    if device.polls < state.device_pending_polls or account is None:
        device.polls += 1
        return JSONResponse({"error": "authorization_pending"}, status_code=403)
    del state.device_auths[device.device_auth_id]
    verifier = new_pkce_verifier()
    challenge = pkce_challenge(verifier)
    code = state.tokens.create_code(
        account.account_id, client_id=device.client_id, redirect_uri=None, code_challenge=challenge
    )
    return JSONResponse(
        {"authorization_code": code, "code_challenge": challenge, "code_verifier": verifier}
    )


ROUTES = [
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/authorize", authorize, methods=["GET"]),
    Route("/api/accounts/deviceauth/usercode", device_usercode, methods=["POST"]),
    Route("/api/accounts/deviceauth/token", device_token, methods=["POST"]),
]
