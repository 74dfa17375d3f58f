import pytest

from azt.pool.accounts import Account, AccountStatus
from azt.pool.scheduler import (
    Strategy,
    cooldown_after,
    headroom,
    rank,
    unavailable_reason,
    window_used,
)
from support.accounts import make_account

NOW = 1_000_000.0


def account(key: str, *, used: float | None = None, weekly: float | None = None, **kw) -> Account:
    quota = {}
    if used is not None:
        quota["primary"] = {"used_percent": used, "window_minutes": 300, "reset_at": NOW + 600}
    if weekly is not None:
        quota["secondary"] = {
            "used_percent": weekly,
            "window_minutes": 10080,
            "reset_at": NOW + 9e5,
        }
    return make_account(key, created_at=int(key[-1]), quota=quota or None, **kw)


def keys(accounts: list[Account]) -> list[str]:
    return [a.key for a in accounts]


def test_headroom_is_the_tightest_window() -> None:
    assert headroom(account("a1", used=30, weekly=80), NOW) == 20
    assert headroom(account("a1", used=30), NOW) == 70
    assert headroom(account("a1"), NOW) is None


def test_a_window_past_its_reset_counts_as_unused() -> None:
    window = {"used_percent": 100, "reset_at": NOW - 1}
    assert window_used(window, NOW) == 0.0
    assert window_used({"used_percent": "x"}, NOW) is None


def test_quota_strategy_prefers_most_headroom_and_tries_unknown_in_the_middle() -> None:
    accounts = [account("a1", used=90), account("a2", used=10), account("a3")]
    assert keys(rank(accounts, Strategy.QUOTA, now=NOW)) == ["a2", "a3", "a1"]


def test_fill_first_keeps_the_default_first() -> None:
    accounts = [account("a1"), account("a2", is_default=True), account("a3")]
    assert keys(rank(accounts, Strategy.FILL_FIRST, now=NOW)) == ["a2", "a1", "a3"]


def test_round_robin_takes_turns() -> None:
    accounts = [account("a1"), account("a2"), account("a3")]
    firsts = [rank(accounts, Strategy.ROUND_ROBIN, now=NOW, turn=t)[0].key for t in range(4)]
    assert firsts == ["a1", "a2", "a3", "a1"]


def test_the_sticky_account_goes_first_without_reordering_the_rest() -> None:
    accounts = [account("a1", used=10), account("a2", used=50), account("a3", used=90)]
    ranked = rank(accounts, Strategy.QUOTA, now=NOW, preferred="a3")
    assert keys(ranked) == ["a3", "a1", "a2"]
    # A sticky account that is not usable (not in the list) is simply not preferred.
    assert keys(rank(accounts[:2], Strategy.QUOTA, now=NOW, preferred="a3")) == ["a1", "a2"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"status": AccountStatus.RELOGIN_REQUIRED}, "relogin_required"),
        ({"paused": True}, "paused"),
        ({"cooldown_until": NOW + 5, "cooldown_reason": "usage_limit"}, "cooling_down"),
        ({"cooldown_until": NOW - 5, "cooldown_reason": "usage_limit"}, None),
    ],
)
def test_unavailable_reason(changes: dict, reason: str | None) -> None:
    assert unavailable_reason(account("a1", **changes), NOW) == reason


def test_paid_work_skips_free_and_unknown_plans() -> None:
    assert unavailable_reason(account("a1", plan="free"), NOW, needs_paid=True) == "plan"
    assert unavailable_reason(account("a1", plan=None), NOW, needs_paid=True) == "plan"
    assert unavailable_reason(account("a1", plan="pro"), NOW, needs_paid=True) is None


@pytest.mark.parametrize(
    ("status", "error", "retry_after", "expected"),
    [
        (
            429,
            {"type": "usage_limit_reached", "resets_at": NOW + 300},
            None,
            (NOW + 300, "usage_limit"),
        ),
        (
            429,
            {"type": "usage_limit_reached", "resets_in_seconds": 60},
            None,
            (NOW + 60, "usage_limit"),
        ),
        (429, {"type": "usage_not_included"}, None, (NOW + 3600, "usage_not_included")),
        (429, None, "20", (NOW + 20, "rate_limited")),
        (429, None, None, (NOW + 60, "rate_limited")),
        (401, None, None, (NOW + 600, "unauthorized")),
        (403, None, None, None),  # a challenge page says nothing about the account
        (500, None, None, None),
        (None, None, None, None),
    ],
)
def test_cooldown_after(status, error, retry_after, expected) -> None:
    assert cooldown_after(status, error, retry_after, NOW) == expected
