"""Reading stored quota as windows, and the pooled `/wham/usage` answer built from it."""

import math
from typing import Any

import pytest

from azt.pool.accounts import Account, AccountStatus
from azt.pool.usage import Window, free_at, parse_window, pooled_usage, quota_windows
from support.accounts import make_account

NOW = 1_800_000_000.0


def window(used: float, minutes: int, reset_in: float | None) -> dict[str, Any]:
    return {
        "used_percent": used,
        "window_minutes": minutes,
        "reset_at": None if reset_in is None else int(NOW + reset_in),
        "reset_after_seconds": None if reset_in is None else int(reset_in),
    }


def paid(five_hour: float, weekly: float, reset_in: float = 3600) -> dict[str, Any]:
    """A paid plan's snapshot: a 5-hour primary and a weekly secondary window."""
    return {
        "primary": window(five_hour, 300, reset_in),
        "secondary": window(weekly, 10080, 5 * 86400),
        "credits": {"has_credits": False, "unlimited": False, "balance": "0"},
        "plan_type": "plus",
    }


def free(weekly: float, reset_in: float = 5 * 86400) -> dict[str, Any]:
    """A free plan's snapshot: one weekly window, and the all-zero secondary the backend sends."""
    return {
        "primary": window(weekly, 10080, reset_in),
        "secondary": {
            "used_percent": 0.0,
            "window_minutes": 0,
            "reset_at": None,
            "reset_after_seconds": 0,
        },
        "plan_type": "free",
    }


def account(name: str, quota: dict[str, Any] | None = None, **fields: Any) -> Account:
    return make_account(
        f"{name}/user",
        plan=fields.pop("plan", "plus"),
        chatgpt_user_id="user",
        quota=quota,
        quota_captured_at=int(NOW) - 60 if quota else None,
        **fields,
    )


def windows_of(report: dict[str, Any]) -> tuple[Any, Any]:
    limits = report["rate_limit"]
    return limits["primary_window"], limits["secondary_window"]


def test_reports_the_account_with_the_most_headroom() -> None:
    """While accounts can serve, the windows shown are those of the one with most room left."""
    accounts = [account("a", paid(80, 10)), account("b", paid(20, 30)), account("c", paid(5, 90))]
    report = pooled_usage(accounts, NOW)
    assert report["rate_limit"]["allowed"] is True
    assert report["rate_limit"]["limit_reached"] is False
    primary, secondary = windows_of(report)
    assert primary == {
        "used_percent": 20,
        "limit_window_seconds": 18000,
        "reset_after_seconds": 3600,
        "reset_at": int(NOW + 3600),
    }
    assert secondary["used_percent"] == 30
    assert secondary["limit_window_seconds"] == 604800
    assert report["plan_type"] == "plus"
    assert report["credits"] == {"has_credits": False, "unlimited": False, "balance": "0"}
    assert report["additional_rate_limits"] == []


def test_an_exhausted_account_does_not_block_while_another_can_serve() -> None:
    """One spent account next to one with room still reads as allowed."""
    report = pooled_usage([account("a", paid(100, 40)), account("b", paid(95, 99))], NOW)
    assert report["rate_limit"]["allowed"] is True
    assert windows_of(report)[0]["used_percent"] == 95


@pytest.mark.parametrize(
    "fields",
    [
        {"paused": True},
        {"status": AccountStatus.RELOGIN_REQUIRED},
        {"cooldown_until": NOW + 600, "cooldown_reason": "rate_limited"},
    ],
    ids=["paused", "relogin", "cooling"],
)
def test_accounts_that_cannot_take_work_are_not_reported(fields: dict[str, Any]) -> None:
    """Paused, logged-out and cooling accounts are passed over, however fresh their quota."""
    excluded = account("fresh", paid(0, 0), **fields)
    report = pooled_usage([excluded, account("busy", paid(70, 70))], NOW)
    assert report["rate_limit"]["allowed"] is True
    assert windows_of(report)[0]["used_percent"] == 70


def test_an_expired_cooldown_no_longer_excludes() -> None:
    """A cooldown that has ended leaves the account usable again."""
    report = pooled_usage([account("a", paid(10, 10), cooldown_until=NOW - 1)], NOW)
    assert report["rate_limit"]["allowed"] is True


def test_every_account_exhausted_reports_the_one_that_resets_first() -> None:
    """With no account able to serve, the report is limit_reached with the soonest reset."""
    accounts = [
        account("late", paid(100, 50, reset_in=7200)),
        account("soon", paid(100, 60, reset_in=900)),
    ]
    report = pooled_usage(accounts, NOW)
    assert report["rate_limit"]["allowed"] is False
    assert report["rate_limit"]["limit_reached"] is True
    primary, secondary = windows_of(report)
    assert primary["used_percent"] == 100
    assert primary["reset_after_seconds"] == 900
    assert secondary["used_percent"] == 60


def test_cooling_accounts_report_the_earliest_cooldown_end() -> None:
    """When every account cools down, the one whose cooldown ends first is shown."""
    accounts = [
        account("a", paid(100, 10, reset_in=3000), cooldown_until=NOW + 3000),
        account("b", paid(100, 20, reset_in=600), cooldown_until=NOW + 600),
        account("paused", paid(100, 30, reset_in=60), paused=True),
    ]
    report = pooled_usage(accounts, NOW)
    assert report["rate_limit"]["limit_reached"] is True
    assert windows_of(report)[1]["used_percent"] == 20


def test_no_usable_account_at_all() -> None:
    """An empty pool, or one of paused accounts only, is limit_reached with no windows."""
    for accounts in ([], [account("a", paid(10, 10), paused=True)]):
        report = pooled_usage(accounts, NOW)
        assert report["rate_limit"]["limit_reached"] is True
        assert windows_of(report) == (None, None)
        assert report["plan_type"] == "guest"
        assert report["credits"] is None


def test_free_plan_reports_its_single_weekly_window_as_primary() -> None:
    """A free plan has one weekly window: it is the primary window, and there is no second."""
    report = pooled_usage([account("f", free(30), plan="free")], NOW)
    primary, secondary = windows_of(report)
    assert primary["limit_window_seconds"] == 604800
    assert primary["used_percent"] == 30
    assert secondary is None
    assert report["plan_type"] == "free"


def test_an_unreported_account_counts_as_fresh() -> None:
    """An account no reply has reported on yet is preferred over a nearly spent one."""
    report = pooled_usage([account("spent", paid(90, 90)), account("new")], NOW)
    assert report["rate_limit"]["allowed"] is True
    assert windows_of(report) == (None, None)
    assert report["credits"] is None


def test_a_window_past_its_reset_starts_over() -> None:
    """A spent window whose reset has passed counts as unused, with the next reset ahead."""
    stale = account("a", paid(100, 10, reset_in=-60))
    report = pooled_usage([stale], NOW)
    assert report["rate_limit"]["allowed"] is True
    primary, _ = windows_of(report)
    assert primary["used_percent"] == 0
    assert primary["reset_after_seconds"] == 18000 - 60


def test_used_percent_is_a_whole_number_rounded_down() -> None:
    """The Codex CLI reads integers; 99.6 % must not read as exhausted."""
    report = pooled_usage([account("a", paid(99.6, 12.5))], NOW)
    assert windows_of(report)[0]["used_percent"] == 99
    assert windows_of(report)[1]["used_percent"] == 12


def test_quota_windows_sorts_by_length() -> None:
    """Windows are classed by their length, not by the backend's primary/secondary names."""
    swapped = {"primary": window(40, 10080, 86400), "secondary": window(7, 300, 600)}
    windows = quota_windows(account("a", swapped), NOW)
    assert windows.short is not None and windows.short.label == "5h"
    assert windows.long is not None and windows.long.label == "7d"
    assert windows.headroom() == 60
    only_weekly = quota_windows(account("f", free(30)), NOW)
    assert only_weekly.short is None and only_weekly.long is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (window(42, 300, 60), Window(42.0, 300, NOW + 60)),
        ({"used_percent": 0, "window_minutes": 0, "reset_at": None}, None),
        ({"window_minutes": 300}, None),
        ({"used_percent": True, "window_minutes": 300}, None),
        ("nonsense", None),
    ],
    ids=["full", "zeros", "no-percent", "bool", "not-a-dict"],
)
def test_parse_window(raw: Any, expected: Window | None) -> None:
    """Only windows with a percentage and something beyond zeros count."""
    assert parse_window(raw, None) == expected


def test_reset_after_seconds_counts_from_the_capture() -> None:
    """A reply that only said how long until the reset is anchored at when it was captured."""
    raw = {"used_percent": 5, "window_minutes": 300, "reset_after_seconds": 30}
    assert parse_window(raw, 1000) == Window(5.0, 300, 1030.0)
    assert parse_window(raw, None) == Window(5.0, 300, None)


def test_free_at() -> None:
    """When an account comes back by itself: after its cooldown and its spent windows."""
    assert free_at(account("ok", paid(10, 10)), NOW) == NOW
    assert free_at(account("spent", paid(100, 10, reset_in=900)), NOW) == NOW + 900
    cooling = account("c", paid(10, 10), cooldown_until=NOW + 60)
    assert free_at(cooling, NOW) == NOW + 60
    assert free_at(account("p", paused=True), NOW) == math.inf
    unknown_reset = account("u", {"primary": {"used_percent": 100, "window_minutes": 300}})
    assert free_at(unknown_reset, NOW) == math.inf


def test_labels_of_unusual_windows() -> None:
    """Window labels name their length."""
    assert [Window(0, m, None).label for m in (300, 10080, 60, 90, 0)] == [
        "5h",
        "7d",
        "1h",
        "90m",
        "?",
    ]
