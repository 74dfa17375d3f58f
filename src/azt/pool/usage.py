"""Quota windows of pooled accounts, and the pooled answer to the Codex usage endpoint.

The Codex CLI asks `GET {chatgpt_base_url}/wham/usage`, and newer versions refuse to start a
turn when the signed-in account looks exhausted. Behind azt the signed-in account does not
matter: a turn goes to whichever pooled account has room. So the answer describes the pool:
the account with the most headroom while any can serve, the one that frees up first when none
can.

This is also the one place that reads a stored quota snapshot (`Account.quota`, taken from the
`x-codex-*` headers) as windows; `azt accounts list` shows the same reading. Pure: the caller
passes the clock.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from azt.pool.accounts import Account, AccountStatus
from azt.pool.scheduler import unavailable_reason

FIVE_HOURS = 300  # minutes
WEEK = 10_080
DAY = 1_440

# The schema default, for a report that names no account (the Codex CLI rejects unknown plans).
NO_PLAN = "guest"


@dataclass(frozen=True)
class Window:
    """One rate-limit window as last reported: percent used, length, and when it resets."""

    used_percent: float
    minutes: int  # 0 when the backend did not say
    reset_at: float | None  # unix seconds; None when unknown

    @property
    def label(self) -> str:
        """'5h', '7d', '90m': the window's length, which is how users tell windows apart."""
        return window_label(self.minutes)

    @property
    def exhausted(self) -> bool:
        return self.used_percent >= 100

    def current(self, now: float) -> "Window":
        """The window as it stands at `now`: past its reset it starts again, unused.

        The next reset is counted on from the last one in whole windows; the length is all
        there is to go on until a reply reports the window again.
        """
        if self.reset_at is None or self.reset_at > now:
            return self
        if self.minutes <= 0:
            return replace(self, used_percent=0.0, reset_at=None)
        length = self.minutes * 60
        passed = math.floor((now - self.reset_at) / length) + 1
        return Window(0.0, self.minutes, self.reset_at + passed * length)


@dataclass(frozen=True)
class Windows:
    """An account's two windows by length: `short` is the 5-hour kind, `long` the weekly one.

    Free plans have only the weekly window, which the backend reports as its primary one.
    """

    short: Window | None = None
    long: Window | None = None

    def present(self) -> list[Window]:
        return [w for w in (self.short, self.long) if w is not None]

    def headroom(self) -> float | None:
        """Percent left in the tightest window; None when no window is known."""
        used = [w.used_percent for w in self.present()]
        return max(0.0, 100.0 - max(used)) if used else None


def window_label(minutes: int) -> str:
    if minutes <= 0:
        return "?"
    if minutes % DAY == 0:
        return f"{minutes // DAY}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def _number(value: Any) -> float | None:
    # bool is an int subclass; a stray True is not a percentage.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def parse_window(raw: Any, captured_at: int | None) -> Window | None:
    """A window from the stored snapshot, or None when the backend reported none.

    Like the Codex CLI, a window counts only if it has a used percentage and something beyond
    zeros: free plans get an all-zero secondary window.
    """
    if not isinstance(raw, Mapping):
        return None
    used = _number(raw.get("used_percent"))
    minutes = int(_number(raw.get("window_minutes")) or 0)
    reset_at = _number(raw.get("reset_at"))
    after = _number(raw.get("reset_after_seconds"))
    if reset_at is None and after and captured_at:
        reset_at = captured_at + after  # older replies only said how long until the reset
    if used is None or (used == 0 and minutes == 0 and reset_at is None):
        return None
    return Window(used, minutes, reset_at)


def quota_windows(account: Account, now: float) -> Windows:
    """The account's windows as they stand at `now`, sorted into short and long."""
    quota = account.quota or {}
    found = [
        window.current(now)
        for name in ("primary", "secondary")
        if (window := parse_window(quota.get(name), account.quota_captured_at)) is not None
    ]
    if len(found) == 2:
        short, long = sorted(found, key=lambda w: w.minutes)  # stable: primary first on a tie
        return Windows(short, long)
    if len(found) == 1:
        only = found[0]
        return Windows(long=only) if only.minutes >= DAY else Windows(short=only)
    return Windows()


def free_at(account: Account, now: float) -> float:
    """When the account can take work again by itself: after its cooldown and spent windows.

    Infinite for a paused account, one that needs a new login, or a spent window whose reset
    is unknown.
    """
    if account.paused or account.status is AccountStatus.RELOGIN_REQUIRED:
        return math.inf
    at = now
    if account.cooldown_until is not None and account.cooldown_until > now:
        at = account.cooldown_until
    for window in quota_windows(account, now).present():
        if window.exhausted:
            if window.reset_at is None:
                return math.inf
            at = max(at, window.reset_at)
    return at


def _can_serve(account: Account, now: float) -> bool:
    if unavailable_reason(account, now) is not None:
        return False
    headroom = quota_windows(account, now).headroom()
    return headroom is None or headroom > 0


def _preference(account: Account, now: float) -> tuple[float, bool]:
    # No reply has reported on the account yet: it has not been used through azt, so it is
    # taken as fresh; on a tie an account with known windows wins, as its report says more.
    windows = quota_windows(account, now)
    headroom = windows.headroom()
    return (100.0 if headroom is None else headroom, headroom is not None)


def pooled_usage(accounts: Sequence[Account], now: float) -> dict[str, Any]:
    """The `/wham/usage` body for the whole pool (codex-backend.md §12).

    While any usable account (not paused, not cooling down, logged in) has headroom, the
    report is `allowed` and shows the windows of the account with the most headroom, so the
    Codex CLI does not block a turn another account could serve. When none can serve it is
    `limit_reached` and shows the account that frees up first.
    """
    serving = [a for a in accounts if _can_serve(a, now)]
    if serving:
        # max() keeps the first of equals: the pool's order, default account first.
        best = max(serving, key=lambda a: _preference(a, now))
        return _payload(best, now, reached=False)
    returning = [a for a in accounts if free_at(a, now) < math.inf]
    soonest = min(returning, key=lambda a: free_at(a, now), default=None)
    return _payload(soonest, now, reached=True)


def _payload(account: Account | None, now: float, *, reached: bool) -> dict[str, Any]:
    windows = quota_windows(account, now).present() if account is not None else []
    # The backend's order: the short window first; a free plan's weekly window is its primary.
    primary = windows[0] if windows else None
    secondary = windows[1] if len(windows) > 1 else None
    return {
        "plan_type": _plan(account),
        "rate_limit": {
            "allowed": not reached,
            "limit_reached": reached,
            "primary_window": _window_json(primary, now),
            "secondary_window": _window_json(secondary, now),
        },
        "credits": _credits(account),
        "additional_rate_limits": [],
    }


def _window_json(window: Window | None, now: float) -> dict[str, int] | None:
    """The backend's window shape; the Codex CLI parses every field as an integer."""
    if window is None:
        return None
    length = window.minutes * 60
    # An unknown reset is at most one window away: that is when a window opened now ends.
    reset_at = window.reset_at if window.reset_at is not None else now + length
    return {
        # Rounded down so 99.6 % used never reads as exhausted.
        "used_percent": min(100, max(0, math.floor(window.used_percent))),
        "limit_window_seconds": length,
        "reset_after_seconds": max(0, math.ceil(reset_at - now)),
        "reset_at": int(reset_at),
    }


def _plan(account: Account | None) -> str:
    if account is None:
        return NO_PLAN
    reported = (account.quota or {}).get("plan_type")
    # The backend's own spelling first: it is what the usage endpoint would have said.
    if isinstance(reported, str) and reported:
        return reported
    return account.plan or NO_PLAN


def _credits(account: Account | None) -> dict[str, Any] | None:
    credits = (account.quota or {}).get("credits") if account is not None else None
    if not isinstance(credits, Mapping):
        return None
    has, unlimited = credits.get("has_credits"), credits.get("unlimited")
    # As the Codex CLI reads the headers: no credits object unless both flags are known.
    if not isinstance(has, bool) or not isinstance(unlimited, bool):
        return None
    balance = credits.get("balance")
    return {
        "has_credits": has,
        "unlimited": unlimited,
        "balance": balance if isinstance(balance, str) else None,
    }
