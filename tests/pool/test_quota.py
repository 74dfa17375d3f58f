from typing import Any

import pytest

from azt.pool.quota import QUOTA_MAX_AGE_SECONDS, QuotaSaves, quota_from_headers, same_quota

PLUS_HEADERS = {
    "X-Codex-Primary-Used-Percent": "12.5",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-at": "1775000000",
    "x-codex-primary-reset-after-seconds": "600",
    "x-codex-secondary-used-percent": "3",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-at": "",
    "x-codex-credits-has-credits": "False",
    "x-codex-credits-unlimited": "false",
    "x-codex-credits-balance": "",
    "x-codex-plan-type": "plus",
    "content-type": "text/event-stream",
}


def test_reads_windows_credits_and_plan() -> None:
    assert quota_from_headers(PLUS_HEADERS) == {
        "primary": {
            "used_percent": 12.5,
            "window_minutes": 300,
            "reset_at": 1775000000,
            "reset_after_seconds": 600,
        },
        "secondary": {
            "used_percent": 3.0,
            "window_minutes": 10080,
            "reset_at": None,
            "reset_after_seconds": None,
        },
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
        "plan_type": "plus",
    }


def test_no_codex_headers_means_no_snapshot() -> None:
    assert quota_from_headers({"content-type": "application/json"}) is None


def test_garbage_values_become_none() -> None:
    snapshot = quota_from_headers({"x-codex-primary-used-percent": "lots"})
    assert snapshot is None or snapshot.get("primary") is None


def snapshot(
    used: float = 12.5,
    *,
    reset_at: int | None = 1775000000,
    after: int | None = 600,
    **extra: Any,
) -> dict[str, Any]:
    window = {
        "used_percent": used,
        "window_minutes": 300,
        "reset_at": reset_at,
        "reset_after_seconds": after,
    }
    return {"primary": window, "plan_type": "plus", **extra}


def test_a_countdown_alone_is_no_change() -> None:
    assert same_quota(snapshot(after=600), 1000, snapshot(after=590), 1010)


@pytest.mark.parametrize(
    "newer",
    [
        snapshot(13),  # more used
        snapshot(reset_at=1775018000, after=18000),  # the window reset
        snapshot(credits={"has_credits": True, "unlimited": False, "balance": "5"}),
        snapshot(limit_reached_type="primary"),
        {**snapshot(), "secondary": snapshot()["primary"]},  # a window appeared
        {**snapshot(), "plan_type": "pro"},
    ],
)
def test_anything_else_is_a_change(newer: dict[str, Any]) -> None:
    assert not same_quota(snapshot(), 1000, newer, 1000)


@pytest.mark.parametrize(("shift", "same"), [(1, True), (-2, True), (3, False), (-60, False)])
def test_reset_at_may_jitter_by_a_second_or_two(shift: int, same: bool) -> None:
    later = snapshot(reset_at=1775000000 + shift, after=590)
    assert same_quota(snapshot(), 1000, later, 1010) is same


def test_a_reset_told_only_as_a_countdown_compares_by_the_instant_it_means() -> None:
    old = snapshot(reset_at=None, after=600)
    assert same_quota(old, 1000, snapshot(reset_at=None, after=590), 1010)
    assert not same_quota(old, 1000, snapshot(reset_at=None, after=18000), 1010)


def test_a_snapshot_is_saved_first_then_only_when_it_changed_or_aged() -> None:
    saves = QuotaSaves()
    assert saves.due("a", snapshot(after=600), 1000)
    assert not saves.due("a", snapshot(after=599), 1001)
    assert saves.due("b", snapshot(after=599), 1001)  # each account on its own
    assert saves.due("a", snapshot(13, after=598), 1002)
    assert not saves.due("a", snapshot(13, after=598 - 59), 1002 + 59)
    # A minute after the last write, even an unchanged one is written: captured_at moves on.
    aged = 1002 + QUOTA_MAX_AGE_SECONDS
    assert saves.due("a", snapshot(13, after=598 - QUOTA_MAX_AGE_SECONDS), aged)


def test_a_forgotten_account_is_saved_again() -> None:
    saves = QuotaSaves()
    assert saves.due("a", snapshot(), 1000)
    saves.forget("a")
    assert saves.due("a", snapshot(after=599), 1001)
