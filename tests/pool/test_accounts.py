"""Building an account from tokens, including exports that carry no id_token."""

from collections.abc import Callable
from typing import Any

import pytest

from azt.pool.accounts import account_from_tokens

type MakeJwt = Callable[[dict[str, Any]], str]

AUTH = "https://api.openai.com/auth"
PROFILE = "https://api.openai.com/profile"


def test_identity_comes_from_the_id_token(make_jwt: MakeJwt) -> None:
    """With an id_token, email, plan and ids are its claims and expiry the access token's."""
    id_token = make_jwt(
        {
            "email": "a@example.com",
            AUTH: {
                "chatgpt_account_id": "acc",
                "chatgpt_user_id": "usr",
                "chatgpt_plan_type": "pro",
            },
        }
    )
    access = make_jwt({"exp": 4_000_000_000})
    account = account_from_tokens(id_token=id_token, access_token=access, refresh_token="rt", now=7)
    assert (account.email, account.plan, account.key) == ("a@example.com", "pro", "acc/usr")
    assert (account.access_expires_at, account.last_refresh, account.created_at) == (
        4_000_000_000,
        7,
        7,
    )


def test_missing_id_token_falls_back_to_access_token_claims(make_jwt: MakeJwt) -> None:
    """An empty id_token is replaced by the access token's auth and profile claims."""
    access = make_jwt(
        {
            "exp": 4_000_000_000,
            AUTH: {"chatgpt_account_id": "acc", "user_id": "usr", "chatgpt_plan_type": "plus"},
            PROFILE: {"email": "p@example.com"},
        }
    )
    account = account_from_tokens(id_token="", access_token=access, refresh_token="rt")
    assert (account.email, account.plan, account.chatgpt_account_id, account.chatgpt_user_id) == (
        "p@example.com",
        "plus",
        "acc",
        "usr",
    )
    assert account.id_token == ""


def test_account_id_hint_fills_a_gap(make_jwt: MakeJwt) -> None:
    """Tokens without chatgpt_account_id use the hint (auth.json's tokens.account_id)."""
    access = make_jwt({"exp": 1})
    account = account_from_tokens(
        id_token="", access_token=access, refresh_token="rt", account_id_hint="hinted"
    )
    assert account.key == "hinted/-"


def test_no_account_id_anywhere_is_refused(make_jwt: MakeJwt) -> None:
    """Without any account id the tokens cannot be pooled."""
    with pytest.raises(ValueError, match="chatgpt_account_id"):
        account_from_tokens(id_token="", access_token=make_jwt({}), refresh_token="rt")


def test_opaque_access_token_without_id_token_is_refused() -> None:
    """An opaque access token and no id_token leave nothing to read an identity from."""
    with pytest.raises(ValueError, match="not a JWT"):
        account_from_tokens(id_token="", access_token="opaque", refresh_token="rt")
