"""Read an account's quota from the `x-codex-*` headers the backend sends on every reply."""

from collections.abc import Mapping
from typing import Any

_WINDOW_FIELDS = {
    "used-percent": ("used_percent", float),
    "window-minutes": ("window_minutes", int),
    "reset-at": ("reset_at", int),
    "reset-after-seconds": ("reset_after_seconds", int),
}


def _number(value: str | None, kind: type) -> Any:
    if value is None or value.strip() == "":
        return None
    try:
        return kind(float(value)) if kind is int else kind(value)
    except ValueError:
        return None


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.strip().lower()
    return True if lowered == "true" else False if lowered == "false" else None


def quota_from_headers(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """A snapshot of the `codex` limit family, or None when the reply carried none of it.

    Header names are matched case-insensitively; missing or unparsable values become None.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    if not any(k.startswith("x-codex-") for k in lower):
        return None
    snapshot: dict[str, Any] = {}
    for window in ("primary", "secondary"):
        values = {
            name: _number(lower.get(f"x-codex-{window}-{suffix}"), kind)
            for suffix, (name, kind) in _WINDOW_FIELDS.items()
        }
        if any(v is not None for v in values.values()):
            snapshot[window] = values
    credits = {
        "has_credits": _bool(lower.get("x-codex-credits-has-credits")),
        "unlimited": _bool(lower.get("x-codex-credits-unlimited")),
        "balance": lower.get("x-codex-credits-balance") or None,
    }
    if any(v is not None for v in credits.values()):
        snapshot["credits"] = credits
    for header, name in (
        ("x-codex-plan-type", "plan_type"),
        ("x-codex-active-limit", "active_limit"),
        ("x-codex-rate-limit-reached-type", "limit_reached_type"),
    ):
        if lower.get(header):
            snapshot[name] = lower[header]
    return snapshot or None


# Replies agree on a window's reset only to a second or two: the backend rounds `reset_at`,
# and a reset told as `reset_after_seconds` is counted from when azt caught the reply.
RESET_SLACK_SECONDS = 2
# A stored snapshot this old is rewritten even unchanged, so `quota_captured_at` stays current.
QUOTA_MAX_AGE_SECONDS = 60
_WINDOWS = ("primary", "secondary")


def reset_instant(window: Mapping[str, Any], captured_at: int | None) -> float | None:
    """When a window resets, as `azt.pool.usage.parse_window` reads it from a snapshot."""
    reset_at: float | None = window.get("reset_at")
    after: float | None = window.get("reset_after_seconds")
    if reset_at is None and after and captured_at:
        return captured_at + after
    return reset_at


def same_quota(old: Mapping[str, Any], old_at: int, new: Mapping[str, Any], new_at: int) -> bool:
    """True when two snapshots say the same, apart from countdowns and reset-time jitter.

    `reset_after_seconds` counts down with every reply; what it means is the reset instant,
    which is compared instead. Everything else (used percentages, window lengths, credits,
    plan, limit reached) must be equal.
    """
    if old.keys() != new.keys():
        return False
    for name, value in new.items():
        if name in _WINDOWS and isinstance(value, Mapping) and isinstance(old[name], Mapping):
            if not _same_window(old[name], old_at, value, new_at):
                return False
        elif old[name] != value:
            return False
    return True


def _same_window(old: Mapping[str, Any], old_at: int, new: Mapping[str, Any], new_at: int) -> bool:
    def steady(window: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in window.items() if k not in ("reset_at", "reset_after_seconds")}

    if steady(old) != steady(new):
        return False
    old_reset, new_reset = reset_instant(old, old_at), reset_instant(new, new_at)
    if old_reset is None or new_reset is None:
        return old_reset is None and new_reset is None
    return abs(new_reset - old_reset) <= RESET_SLACK_SECONDS


class QuotaSaves:
    """Decides which quota snapshots are worth a database write.

    Every upstream reply carries a snapshot, and only its countdowns change from one reply to
    the next; writing each would cost a transaction per request. A snapshot is written when it
    says something new or the stored one is `max_age` seconds old.
    """

    def __init__(self, max_age: int = QUOTA_MAX_AGE_SECONDS) -> None:
        self._max_age = max_age
        self._saved: dict[str, tuple[dict[str, Any], int]] = {}  # key -> (snapshot, captured_at)

    def due(self, key: str, snapshot: dict[str, Any], captured_at: int) -> bool:
        """Whether to write `snapshot`; a True answer counts it as written from now on."""
        saved = self._saved.get(key)
        if saved is not None:
            old, old_at = saved
            if captured_at - old_at < self._max_age and same_quota(
                old, old_at, snapshot, captured_at
            ):
                return False
        self._saved[key] = (snapshot, captured_at)
        return True

    def forget(self, key: str) -> None:
        """The write failed or the account is gone: the next snapshot is written again."""
        self._saved.pop(key, None)
