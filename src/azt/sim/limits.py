"""Rate-limit windows as the backend reports them: `x-codex-*` headers and the usage JSON.

Pure: the caller passes the clock. Windows follow the plan (free: one weekly window; paid:
5 hours plus weekly) and reset on fixed boundaries counted from when
the simulator started, so successive replies agree with each other.
"""

from dataclasses import dataclass
from typing import Any

FIVE_HOURS = 300
WEEK = 10080


@dataclass
class Usage:
    """What an account has used; tests and the admin API move these numbers."""

    primary_used_percent: float = 0.0
    secondary_used_percent: float = 0.0
    has_credits: bool = False
    unlimited: bool = False
    balance: str = "0"


@dataclass(frozen=True)
class Window:
    used_percent: float
    window_minutes: int
    reset_at: int
    reset_after_seconds: int


def windows(plan: str, usage: Usage, started_at: float, now: float) -> tuple[Window, Window | None]:
    """The primary and (for paid plans) secondary window at `now`."""
    if plan == "free":
        return _window(usage.primary_used_percent, WEEK, started_at, now), None
    return (
        _window(usage.primary_used_percent, FIVE_HOURS, started_at, now),
        _window(usage.secondary_used_percent, WEEK, started_at, now),
    )


def _window(used: float, minutes: int, started_at: float, now: float) -> Window:
    length = minutes * 60
    after = length - int(now - started_at) % length
    return Window(used, minutes, int(now) + after, after)


def exhausted(window: Window, resets_in_seconds: int, now: float) -> Window:
    """The window as a usage-limit 429 reports it: fully used, resetting when the fault says."""
    return Window(100.0, window.window_minutes, int(now) + resets_in_seconds, resets_in_seconds)


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _bool(value: bool) -> str:
    # The backend spells booleans the Python way; the CLI compares case-insensitively.
    return "True" if value else "False"


def rate_limit_headers(
    plan: str, primary: Window, secondary: Window | None, usage: Usage
) -> dict[str, str]:
    """The `x-codex-*` family sent on every /responses reply."""
    headers = {"x-codex-plan-type": plan}
    headers.update(_window_headers("primary", primary))
    if secondary is None:
        headers.update(
            {
                "x-codex-secondary-used-percent": "0",
                "x-codex-secondary-window-minutes": "0",
                "x-codex-secondary-reset-after-seconds": "0",
                "x-codex-secondary-reset-at": "",
            }
        )
    else:
        headers.update(_window_headers("secondary", secondary))
    headers.update(
        {
            "x-codex-primary-over-secondary-limit-percent": "0",
            "x-codex-credits-has-credits": _bool(usage.has_credits),
            "x-codex-credits-balance": usage.balance,
            "x-codex-credits-unlimited": _bool(usage.unlimited),
        }
    )
    return headers


def _window_headers(name: str, window: Window) -> dict[str, str]:
    prefix = f"x-codex-{name}"
    return {
        f"{prefix}-used-percent": str(_number(window.used_percent)),
        f"{prefix}-window-minutes": str(window.window_minutes),
        f"{prefix}-reset-after-seconds": str(window.reset_after_seconds),
        f"{prefix}-reset-at": str(window.reset_at),
    }


def usage_payload(
    *,
    email: str,
    account_id: str,
    user_id: str,
    plan: str,
    primary: Window,
    secondary: Window | None,
    usage: Usage,
) -> dict[str, Any]:
    """The `/wham/usage` body for one account."""
    reached = primary.used_percent >= 100 or (
        secondary is not None and secondary.used_percent >= 100
    )
    return {
        "user_id": user_id,
        "account_id": account_id,
        "email": email,
        "plan_type": plan,
        "rate_limit": {
            "allowed": not reached,
            "limit_reached": reached,
            "primary_window": _window_json(primary),
            "secondary_window": _window_json(secondary) if secondary else None,
        },
        "credits": {
            "has_credits": usage.has_credits,
            "unlimited": usage.unlimited,
            "balance": usage.balance,
        },
        "additional_rate_limits": [],
        "rate_limit_reached_type": {"type": "rate_limit_reached"} if reached else None,
        "spend_control": {"reached": False},
    }


def _window_json(window: Window) -> dict[str, Any]:
    return {
        "used_percent": _number(window.used_percent),
        "limit_window_seconds": window.window_minutes * 60,
        "reset_after_seconds": window.reset_after_seconds,
        "reset_at": window.reset_at,
    }
