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
