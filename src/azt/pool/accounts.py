"""The pooled account: identity from the id_token, tokens, and whether it can serve."""

import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from azt.pool.jwt import Identity, TokenFormatError, expiry, identity_from_id_token


class AccountStatus(StrEnum):
    OK = "ok"
    RELOGIN_REQUIRED = "relogin_required"


@dataclass(frozen=True)
class Account:
    key: str
    email: str | None
    plan: str | None
    chatgpt_account_id: str
    chatgpt_user_id: str | None
    id_token: str
    access_token: str
    refresh_token: str
    access_expires_at: int | None
    last_refresh: int | None
    status: AccountStatus = AccountStatus.OK
    status_reason: str | None = None
    is_default: bool = False
    created_at: int = 0
    paused: bool = False
    cooldown_until: float | None = None  # unix seconds; no new work before then
    cooldown_reason: str | None = None
    quota: dict[str, Any] | None = field(default=None, compare=False)  # from x-codex-* headers
    quota_captured_at: int | None = None

    def cooling(self, now: float) -> bool:
        return self.cooldown_until is not None and self.cooldown_until > now

    @property
    def label(self) -> str:
        """A name that is safe to print and log (never a token)."""
        return self.email or self.key

    def needs_refresh(self, now: float, skew_seconds: int) -> bool:
        """True when the access token expires within `skew_seconds`.

        Tokens without `exp` are refreshed after eight days, as the Codex CLI does.
        """
        if self.access_expires_at is not None:
            return self.access_expires_at - skew_seconds <= now
        return self.last_refresh is None or now - self.last_refresh > 8 * 24 * 3600

    def with_tokens(
        self, *, access_token: str, refresh_token: str, id_token: str | None, now: int
    ) -> "Account":
        return replace(
            self,
            access_token=access_token,
            refresh_token=refresh_token,
            id_token=id_token or self.id_token,
            access_expires_at=expiry(access_token),
            last_refresh=now,
        )


def account_key(chatgpt_account_id: str, chatgpt_user_id: str | None) -> str:
    # Members of one workspace share the account id; the user id tells them apart.
    return f"{chatgpt_account_id}/{chatgpt_user_id or '-'}"


def account_from_tokens(
    *,
    id_token: str,
    access_token: str,
    refresh_token: str,
    account_id_hint: str | None = None,
    now: int | None = None,
) -> Account:
    """Build an account from a token set; identity comes from the id_token claims.

    An empty id_token falls back to the access token's claims, which carry the same auth and
    profile claims: the original system's exports often lack an id_token.
    Raises ValueError when the tokens do not name a ChatGPT account.
    """
    identity = _identity(id_token, access_token)
    account_id = identity.chatgpt_account_id or account_id_hint
    if not account_id:
        raise ValueError("the tokens name no ChatGPT account (no chatgpt_account_id claim)")
    stamp = int(time.time()) if now is None else now
    return Account(
        key=account_key(account_id, identity.chatgpt_user_id),
        email=identity.email,
        plan=identity.plan,
        chatgpt_account_id=account_id,
        chatgpt_user_id=identity.chatgpt_user_id,
        id_token=id_token,
        access_token=access_token,
        refresh_token=refresh_token,
        access_expires_at=expiry(access_token),
        last_refresh=stamp,
        created_at=stamp,
    )


def _identity(id_token: str, access_token: str) -> Identity:
    if id_token:
        return identity_from_id_token(id_token)
    try:
        return identity_from_id_token(access_token)
    except TokenFormatError as e:
        raise ValueError("there is no id_token and the access token is not a JWT") from e
