"""Which accounts may take a request, in which order, and how long a failure benches one.

Pure decisions over account snapshots (quota from `x-codex-*` headers, cooldowns, pauses); the
dispatcher supplies the clock and applies them.
"""

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from azt.pool.accounts import Account, AccountStatus

# Headroom assumed for an account no reply has reported on yet: below a fresh account's 100,
# above one that is nearly spent, so unknown accounts are tried but not favoured.
UNKNOWN_HEADROOM = 50.0
PAID_PLANS_EXCLUDED = frozenset({"free"})


class Strategy(StrEnum):
    QUOTA = "quota"  # most headroom across the 5-hour and weekly windows first
    ROUND_ROBIN = "round-robin"  # take turns
    FILL_FIRST = "fill-first"  # the default account until it is limited, then the next


def window_used(window: Any, now: float) -> float | None:
    """The used percentage of one quota window; a window past its reset counts as unused."""
    if not isinstance(window, dict):
        return None
    used = window.get("used_percent")
    if not isinstance(used, int | float):
        return None
    reset_at = window.get("reset_at")
    if isinstance(reset_at, int | float) and reset_at <= now:
        return 0.0
    return float(used)


def headroom(account: Account, now: float) -> float | None:
    """Percent left in the tightest window, or None when no reply has reported quota yet."""
    quota = account.quota or {}
    used = [
        u
        for u in (window_used(quota.get(w), now) for w in ("primary", "secondary"))
        if u is not None
    ]
    if not used:
        return None
    return max(0.0, 100.0 - max(used))


def unavailable_reason(account: Account, now: float, *, needs_paid: bool = False) -> str | None:
    """Why the account cannot take new work now, or None when it can."""
    if account.status is AccountStatus.RELOGIN_REQUIRED:
        return "relogin_required"
    if account.paused:
        return "paused"
    if account.cooling(now):
        return "cooling_down"
    if needs_paid and (account.plan is None or account.plan in PAID_PLANS_EXCLUDED):
        return "plan"
    return None


def rank(
    accounts: Sequence[Account],
    strategy: Strategy,
    *,
    now: float,
    turn: int = 0,
    preferred: str | None = None,
) -> list[Account]:
    """Order usable accounts by `strategy`; `preferred` (a sticky account key) goes first.

    `accounts` must already be filtered to usable ones. `turn` counts requests, for
    round-robin. The stable base order is the default account first, then oldest first.
    """
    base = sorted(accounts, key=lambda a: (not a.is_default, a.created_at, a.key))
    if strategy is Strategy.QUOTA:
        ordered = sorted(
            base,
            key=lambda a: -(h if (h := headroom(a, now)) is not None else UNKNOWN_HEADROOM),
        )
    elif strategy is Strategy.ROUND_ROBIN and base:
        start = turn % len(base)
        ordered = base[start:] + base[:start]
    else:
        ordered = base
    if preferred is not None:
        ordered.sort(key=lambda a: a.key != preferred)  # stable: only the sticky one moves
    return ordered


def cooldown_after(
    status: int | None, error: dict[str, Any] | None, retry_after: str | None, now: float
) -> tuple[float, str] | None:
    """How long a failed attempt benches the account, and why; None for no cooldown.

    A usage limit lasts until the backend's reset; a plain rate limit as long as Retry-After
    says (a minute when it says nothing). A 401 reaches here only after a fresh token was
    refused too, so the account rests for ten minutes instead of burning a refresh per
    request. A 403 challenge page or a 5xx says nothing about the account, so it stays
    available for other work.
    """
    if status == 401:
        return now + 10 * 60, "unauthorized"
    if status != 429:
        return None
    if error and error.get("type") == "usage_limit_reached":
        reset = reset_time(error, now)
        return (reset if reset is not None else now + 15 * 60), "usage_limit"
    if error and error.get("type") == "usage_not_included":
        return now + 60 * 60, "usage_not_included"
    seconds = _seconds(retry_after)
    return now + (seconds if seconds is not None else 60.0), "rate_limited"


def reset_time(error: dict[str, Any], now: float) -> float | None:
    at = error.get("resets_at")
    if isinstance(at, int | float):
        return float(at)
    after = error.get("resets_in_seconds")
    if isinstance(after, int | float):
        return now + float(after)
    return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
