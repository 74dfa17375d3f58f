"""The ChatGPT OAuth client: PKCE browser login, device-code login, code exchange and refresh.

Error tree:

    LoginError          a sign-in could not be completed (exchange, device code, timeout)
    RefreshError        a refresh grant failed; `.permanent` says whether to ask for a new login

Both are raised here and only here from httpx errors and error replies, so callers never
see a raw `httpx` exception. No message ever contains a token.
"""

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from azt.config import Settings

SCOPE = "openid profile email offline_access api.connectors.read api.connectors.invoke"
# 1455 is what the Codex CLI registers; 1457 is its fallback when 1455 is taken.
CALLBACK_PORTS: tuple[int, ...] = (1455, 1457)
CALLBACK_PATH = "/auth/callback"
DEVICE_VERIFICATION_PATH = "/codex/device"
DEVICE_CALLBACK_PATH = "/deviceauth/callback"

# Codes after which the refresh token can never work again: only a new login helps.
PERMANENT_REFRESH_CODES = frozenset(
    {"refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated", "invalid_grant"}
)


class LoginError(Exception):
    """Raised when a sign-in cannot be completed; the message says why and what to try."""


class RefreshError(Exception):
    """Raised when the token endpoint refuses or cannot answer a refresh grant.

    `permanent` is True when the refresh token is dead (expired, reused, revoked, HTTP 401):
    retrying is pointless and the user must log in again.
    """

    def __init__(self, message: str, *, permanent: bool, code: str | None, status: int | None):
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.status = status


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returned; a refresh reply may leave any field out."""

    id_token: str | None
    access_token: str | None
    refresh_token: str | None
    expires_in: int | None


@dataclass(frozen=True)
class DeviceCode:
    device_auth_id: str
    user_code: str
    interval: float
    verification_url: str


def issuer(settings: Settings) -> str:
    return settings.auth_base_url.rstrip("/")


def redirect_uri(port: int) -> str:
    return f"http://localhost:{port}{CALLBACK_PATH}"


def device_redirect_uri(settings: Settings) -> str:
    return f"{issuer(settings)}{DEVICE_CALLBACK_PATH}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair, as the Codex CLI makes them."""
    verifier = _b64url(secrets.token_bytes(64))
    challenge = _b64url(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier, challenge


def new_state() -> str:
    return _b64url(secrets.token_bytes(32))


def build_authorize_url(
    settings: Settings,
    *,
    redirect_uri: str,
    challenge: str,
    state: str,
    originator: str = "codex_cli_rs",
) -> str:
    # Parameter order follows the Codex CLI exactly, so the request looks like its own.
    params = [
        ("response_type", "code"),
        ("client_id", settings.oauth_client_id),
        ("redirect_uri", redirect_uri),
        ("scope", SCOPE),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", state),
        ("originator", originator),
    ]
    return f"{issuer(settings)}/oauth/authorize?{urlencode(params)}"


def _timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(30.0, connect=settings.upstream_connect_timeout)


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def error_code(body: Mapping[str, Any] | None) -> str | None:
    """The machine-readable code of an OAuth error body.

    Accepts `{"error": {"code": ...}}` (ChatGPT's shape) and `{"error": "invalid_grant"}`
    (RFC 6749's).
    """
    if not body:
        return None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        return code if isinstance(code, str) else None
    return error if isinstance(error, str) else None


def _token_set(body: Mapping[str, Any]) -> TokenSet:
    def text(name: str) -> str | None:
        value = body.get(name)
        return value if isinstance(value, str) and value else None

    expires_in = body.get("expires_in")
    return TokenSet(
        id_token=text("id_token"),
        access_token=text("access_token"),
        refresh_token=text("refresh_token"),
        expires_in=int(expires_in) if isinstance(expires_in, int | float) else None,
    )


async def exchange_code(
    client: httpx.AsyncClient,
    settings: Settings,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> TokenSet:
    """Trade an authorization code for tokens (form body, as the Codex CLI sends it)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": settings.oauth_client_id,
        "code_verifier": verifier,
    }
    try:
        response = await client.post(
            f"{issuer(settings)}/oauth/token", data=form, timeout=_timeout(settings)
        )
    except httpx.HTTPError as e:
        raise LoginError(f"could not reach {issuer(settings)} to finish sign-in: {e!r}") from e
    body = _json_object(response)
    if response.status_code != 200:
        code_name = error_code(body) or "no error code"
        raise LoginError(
            f"the token endpoint refused the sign-in code (HTTP {response.status_code}, "
            f"{code_name}); start `azt login` again"
        )
    tokens = _token_set(body or {})
    if not tokens.access_token or not tokens.refresh_token:
        raise LoginError("the token endpoint's reply lacks an access or refresh token")
    return tokens


def _refresh_failure(response: httpx.Response) -> RefreshError:
    code = error_code(_json_object(response))
    permanent = response.status_code == 401 or code in PERMANENT_REFRESH_CODES
    detail = f"HTTP {response.status_code}" + (f", {code}" if code else "")
    return RefreshError(
        f"refresh refused ({detail})", permanent=permanent, code=code, status=response.status_code
    )


async def refresh_tokens(
    client: httpx.AsyncClient, settings: Settings, refresh_token: str
) -> TokenSet:
    """Run one refresh grant. The refresh token is single use: persist the reply at once."""
    payload = {
        "client_id": settings.oauth_client_id,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }
    try:
        response = await client.post(
            f"{issuer(settings)}/oauth/token", json=payload, timeout=_timeout(settings)
        )
    except httpx.HTTPError as e:
        # Network trouble says nothing about the token: it may well still be valid.
        raise RefreshError(
            f"token endpoint unreachable ({type(e).__name__})",
            permanent=False,
            code=None,
            status=None,
        ) from e
    if response.status_code != 200:
        raise _refresh_failure(response)
    body = _json_object(response)
    if body is None:
        raise RefreshError(
            "token endpoint answered 200 without a JSON object",
            permanent=False,
            code=None,
            status=200,
        )
    return _token_set(body)


async def request_device_code(client: httpx.AsyncClient, settings: Settings) -> DeviceCode:
    """Start a device-code login: the user types `user_code` at `verification_url`."""
    url = f"{issuer(settings)}/api/accounts/deviceauth/usercode"
    try:
        response = await client.post(
            url, json={"client_id": settings.oauth_client_id}, timeout=_timeout(settings)
        )
    except httpx.HTTPError as e:
        raise LoginError(f"could not reach {issuer(settings)}: {e!r}") from e
    if response.status_code == 404:
        raise LoginError(
            "device-code login is not enabled for this account: turn it on in ChatGPT "
            "Settings > Security (or ask your workspace admin), or use the browser login"
        )
    body = _json_object(response)
    if response.status_code != 200 or body is None:
        raise LoginError(f"could not start device-code login (HTTP {response.status_code})")
    device_auth_id = body.get("device_auth_id")
    user_code = body.get("user_code") or body.get("usercode")
    if not isinstance(device_auth_id, str) or not isinstance(user_code, str):
        raise LoginError("the device-code reply lacks device_auth_id or user_code")
    return DeviceCode(
        device_auth_id=device_auth_id,
        user_code=user_code,
        interval=_interval(body.get("interval")),
        verification_url=f"{issuer(settings)}{DEVICE_VERIFICATION_PATH}",
    )


def _interval(value: object) -> float:
    # The server sends the polling interval as a string of seconds.
    if isinstance(value, str | int | float):
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
    return 5.0


async def poll_device_code(
    client: httpx.AsyncClient, settings: Settings, code: DeviceCode, *, timeout: float
) -> tuple[str, str]:
    """Wait until the user approves the device code; return (authorization_code, verifier)."""
    url = f"{issuer(settings)}/api/accounts/deviceauth/token"
    payload = {"device_auth_id": code.device_auth_id, "user_code": code.user_code}
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            response = await client.post(url, json=payload, timeout=_timeout(settings))
        except httpx.HTTPError as e:
            raise LoginError(f"lost contact with {issuer(settings)}: {e!r}") from e
        if response.status_code == 200:
            return _approved(response)
        if response.status_code not in (403, 404):  # 403/404 mean "not approved yet"
            raise LoginError(f"device-code login failed (HTTP {response.status_code})")
        if asyncio.get_running_loop().time() + code.interval > deadline:
            raise LoginError(
                f"the device code was not approved within {timeout:g} seconds; "
                "run `azt login --device` again"
            )
        await asyncio.sleep(code.interval)


def _approved(response: httpx.Response) -> tuple[str, str]:
    body = _json_object(response) or {}
    authorization_code = body.get("authorization_code")
    verifier = body.get("code_verifier")
    if not isinstance(authorization_code, str) or not isinstance(verifier, str):
        raise LoginError("the device-code approval lacks authorization_code or code_verifier")
    return authorization_code, verifier


def parse_callback_input(text: str, expected_state: str) -> str:
    """The authorization code in what a user pasted after signing in.

    Accepts the full redirect URL, its query string, `code#state` or the bare code. A state,
    when present, must match this login attempt's.
    """
    text = text.strip()
    if not text:
        raise ValueError("nothing was pasted")
    code, state = _split_pasted(text)
    if state is not None and state != expected_state:
        raise ValueError(
            "the pasted URL belongs to a different login attempt (state mismatch); "
            "paste the URL from the sign-in this command started"
        )
    return code


def _split_pasted(text: str) -> tuple[str, str | None]:
    if "://" in text:
        query = urlsplit(text).query
    elif text.startswith("?") or "code=" in text or "error=" in text:
        query = text.lstrip("?")
    elif "#" in text:
        code, state = text.split("#", 1)
        return _require_code(code), state or None
    else:
        return text, None
    params = parse_qs(query)
    if "error" in params and "code" not in params:
        reason = (params.get("error_description") or params["error"])[0]
        raise ValueError(f"the sign-in failed: {reason}")
    code = (params.get("code") or [""])[0]
    states = params.get("state")
    return _require_code(code), states[0] if states else None


def _require_code(code: str) -> str:
    if not code:
        raise ValueError("no authorization code found in what was pasted")
    return code
