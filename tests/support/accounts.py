"""Accounts for tests that need one without signing in."""

from dataclasses import replace
from typing import Any

from azt.pool.accounts import Account


def make_account(key: str = "acct/user", **changes: Any) -> Account:
    """A plus-plan account named after `key`; any field can be overridden."""
    base = Account(
        key=key,
        email=f"{key.split('/')[0]}@example.com",
        plan="plus",
        chatgpt_account_id=key.split("/")[0],
        chatgpt_user_id=None,
        id_token="i",
        access_token="a",
        refresh_token="r",
        access_expires_at=None,
        last_refresh=None,
    )
    return replace(base, **changes)
