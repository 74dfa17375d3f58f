"""Read the claims azt needs from ChatGPT id and access tokens.

Tokens are decoded without verifying their signature, exactly as the Codex CLI does: azt is
the holder of these tokens, not their audience, and only uses the claims for display and for
deciding when to refresh.
"""

import base64
import json
from dataclasses import dataclass
from typing import Any

AUTH_CLAIM = "https://api.openai.com/auth"
PROFILE_CLAIM = "https://api.openai.com/profile"


class TokenFormatError(ValueError):
    """The string is not a JWT whose payload is a JSON object."""


def decode_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenFormatError("not a JWT: expected three dot-separated parts")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, UnicodeDecodeError) as e:
        raise TokenFormatError(f"not a JWT: unreadable payload ({e})") from e
    if not isinstance(claims, dict):
        raise TokenFormatError("not a JWT: payload is not a JSON object")
    return claims


@dataclass(frozen=True)
class Identity:
    """Who an id_token belongs to."""

    email: str | None
    plan: str | None
    chatgpt_account_id: str | None
    chatgpt_user_id: str | None


def identity_from_id_token(id_token: str) -> Identity:
    claims = decode_claims(id_token)
    auth = claims.get(AUTH_CLAIM) or {}
    profile = claims.get(PROFILE_CLAIM) or {}
    email = claims.get("email") or profile.get("email")
    return Identity(
        email=email if isinstance(email, str) else None,
        plan=_str_or_none(auth.get("chatgpt_plan_type")),
        chatgpt_account_id=_str_or_none(auth.get("chatgpt_account_id")),
        chatgpt_user_id=_str_or_none(auth.get("chatgpt_user_id") or auth.get("user_id")),
    )


def expiry(token: str) -> int | None:
    """The `exp` claim in unix seconds, or None when the token has none or is not a JWT."""
    try:
        exp = decode_claims(token).get("exp")
    except TokenFormatError:
        return None
    return int(exp) if isinstance(exp, int | float) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
