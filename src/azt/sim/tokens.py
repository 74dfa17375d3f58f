"""Sim accounts, JWT minting and the token registry (rotation, reuse detection, codes).

Tokens look like the real ones closely enough for any client: HS256 JWTs whose claims match
what auth.openai.com puts in id and access tokens. The registry is the simulator's memory of
what it issued, so it can refuse expired access tokens, rotate refresh tokens exactly once and
recognise a refresh token that is presented a second time.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

AUTH_CLAIM = "https://api.openai.com/auth"
PROFILE_CLAIM = "https://api.openai.com/profile"

DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
ID_TOKEN_TTL = 3600

# Fixed so that the same email always yields the same ids, across runs and machines.
_ID_NAMESPACE = uuid.UUID("5c2f4b7e-9a1d-4d3c-8e6f-0a7b1c2d3e4f")

REVOCATION_CODES = ("refresh_token_invalidated", "refresh_token_expired")
_REVOCATION_MESSAGES = {
    "refresh_token_invalidated": (
        "Your refresh token has been invalidated. Please try signing in again."
    ),
    "refresh_token_expired": "Your refresh token has expired. Please try signing in again.",
    "refresh_token_reused": (
        "Your refresh token has already been used to generate a new access token. "
        "Please try signing in again."
    ),
}


@dataclass(frozen=True)
class SimAccount:
    """A ChatGPT account the simulator serves."""

    account_id: str
    user_id: str
    email: str
    plan: str


def default_account_id(email: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"account:{email.lower()}"))


def default_user_id(email: str) -> str:
    digest = hashlib.sha256(f"user:{email.lower()}".encode()).hexdigest()
    return f"user-{digest[:24]}"


# --- JWT -------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def mint_jwt(claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWT over `claims`."""
    signing_input = (
        _b64url(_compact_json({"alg": "HS256", "typ": "JWT"}))
        + "."
        + _b64url(_compact_json(claims))
    )
    signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def verify_jwt(token: str, secret: bytes) -> dict[str, Any] | None:
    """The claims of a JWT signed with `secret`, or None if it is not one (expiry unchecked)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    expected = hmac.new(secret, f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _b64url_decode(parts[2])):
            return None
        claims = json.loads(_b64url_decode(parts[1]))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge for a PKCE verifier."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def new_pkce_verifier() -> str:
    return _b64url(secrets.token_bytes(64))


# --- registry --------------------------------------------------------------------------------


class AccessDenied(Exception):
    """An access token the simulator will not accept; `reason` is "invalid" or "expired"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GrantRejected(Exception):
    """A token-endpoint grant failed; carries the HTTP status and JSON body to answer with."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body


def invalid_grant(description: str) -> GrantRejected:
    return GrantRejected(400, {"error": "invalid_grant", "error_description": description})


def _refresh_failure(code: str) -> GrantRejected:
    return GrantRejected(
        401,
        {
            "error": {
                "message": _REVOCATION_MESSAGES[code],
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        },
    )


@dataclass(frozen=True)
class _PendingCode:
    account_id: str
    client_id: str
    # None: a device-code grant, redeemable with any ".../deviceauth/callback" redirect.
    redirect_uri: str | None
    code_challenge: str


DEVICE_CALLBACK_PATH = "/deviceauth/callback"


class TokenRegistry:
    """Everything the simulator has issued, and the rules for accepting it back."""

    def __init__(self, secret: bytes, issuer: str, client_id: str) -> None:
        self.secret = secret
        self.issuer = issuer
        self.client_id = client_id
        self._access_owner: dict[str, str] = {}  # jti -> account id
        self._refresh_owner: dict[str, str] = {}  # every refresh token ever issued
        self._current_refresh: dict[str, str] = {}  # account id -> its live refresh token
        self._used: set[str] = set()
        self._revoked: dict[str, str] = {}  # refresh token -> revocation code
        self._codes: dict[str, _PendingCode] = {}

    # tokens

    def issue(
        self, account: SimAccount, access_ttl: int, now: float | None = None
    ) -> dict[str, Any]:
        """Mint a full token set; the account's previous refresh token stops being current."""
        issued_at = int(time.time() if now is None else now)
        previous = self._current_refresh.get(account.account_id)
        if previous is not None and previous not in self._used:
            # A newer grant supersedes it; presenting it again is refused as invalidated.
            self._revoked.setdefault(previous, "refresh_token_invalidated")
        refresh_token = f"rt_sim_{secrets.token_urlsafe(32)}"
        self._refresh_owner[refresh_token] = account.account_id
        self._current_refresh[account.account_id] = refresh_token
        jti = str(uuid.uuid4())
        self._access_owner[jti] = account.account_id
        return {
            "id_token": mint_jwt(self._id_claims(account, issued_at), self.secret),
            "access_token": mint_jwt(
                self._access_claims(account, issued_at, access_ttl, jti), self.secret
            ),
            "refresh_token": refresh_token,
            "expires_in": access_ttl,
        }

    def account_for_access_token(self, token: str, now: float | None = None) -> str:
        """The account a live access token belongs to; raises AccessDenied otherwise."""
        claims = verify_jwt(token, self.secret)
        if claims is None or claims.get("jti") not in self._access_owner:
            raise AccessDenied("invalid")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= (time.time() if now is None else now):
            raise AccessDenied("expired")
        return self._access_owner[claims["jti"]]

    def redeem_refresh_token(self, refresh_token: str) -> str:
        """Consume a refresh token for rotation; returns its account or raises GrantRejected.

        The caller must issue the new token set without awaiting in between, so two racing
        refreshes cannot both pass.
        """
        account_id = self._refresh_owner.get(refresh_token)
        if account_id is None:
            raise invalid_grant("Invalid refresh token.")
        if refresh_token in self._used:
            raise _refresh_failure("refresh_token_reused")
        if refresh_token in self._revoked:
            raise _refresh_failure(self._revoked[refresh_token])
        self._used.add(refresh_token)
        return account_id

    def revoke(self, account_id: str, code: str) -> None:
        """Make the account's current refresh token fail with `code` from now on."""
        if code not in REVOCATION_CODES:
            raise ValueError(f"revocation code must be one of {', '.join(REVOCATION_CODES)}")
        current = self._current_refresh.get(account_id)
        if current is None:
            raise KeyError(f"account {account_id} has no refresh token to revoke")
        self._revoked[current] = code

    def current_refresh_token(self, account_id: str) -> str | None:
        return self._current_refresh.get(account_id)

    # authorization codes

    def create_code(
        self, account_id: str, *, client_id: str, redirect_uri: str | None, code_challenge: str
    ) -> str:
        code = f"ac_sim_{secrets.token_urlsafe(24)}"
        self._codes[code] = _PendingCode(account_id, client_id, redirect_uri, code_challenge)
        return code

    def redeem_code(
        self, code: str, *, client_id: str, redirect_uri: str, code_verifier: str
    ) -> str:
        """Exchange a one-time authorization code; returns the account id."""
        pending = self._codes.pop(code, None)
        if pending is None:
            raise invalid_grant("Invalid authorization code.")
        if client_id != pending.client_id:
            raise invalid_grant("client_id does not match the authorization request.")
        if not _redirect_matches(pending.redirect_uri, redirect_uri):
            raise invalid_grant("redirect_uri does not match the authorization request.")
        if pkce_challenge(code_verifier) != pending.code_challenge:
            raise invalid_grant("code_verifier does not match the code_challenge.")
        return pending.account_id

    # claims

    def _auth_claim(self, account: SimAccount) -> dict[str, str]:
        return {
            "chatgpt_plan_type": account.plan,
            "chatgpt_user_id": account.user_id,
            "user_id": account.user_id,
            "chatgpt_account_id": account.account_id,
        }

    def _id_claims(self, account: SimAccount, iat: int) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": account.user_id,
            "email": account.email,
            "email_verified": True,
            "iat": iat,
            "auth_time": iat,
            "exp": iat + ID_TOKEN_TTL,
            AUTH_CLAIM: self._auth_claim(account),
        }

    def _access_claims(self, account: SimAccount, iat: int, ttl: int, jti: str) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "aud": ["https://api.openai.com/v1"],
            "client_id": self.client_id,
            "sub": account.user_id,
            "iat": iat,
            "nbf": iat,
            "exp": iat + ttl,
            "jti": jti,
            "scp": ["openid", "profile", "email", "offline_access"],
            AUTH_CLAIM: self._auth_claim(account),
            PROFILE_CLAIM: {"email": account.email, "email_verified": True},
        }


def _redirect_matches(issued_for: str | None, presented: str) -> bool:
    if issued_for is None:
        return presented.rstrip("/").endswith(DEVICE_CALLBACK_PATH)
    return presented == issued_for


def codex_auth_json(
    account: SimAccount, tokens: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """A Codex CLI `auth.json` document holding `tokens`."""
    stamp = time.gmtime(time.time() if now is None else now)
    return {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": tokens["id_token"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "account_id": account.account_id,
        },
        "last_refresh": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", stamp),
    }
