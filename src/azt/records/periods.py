"""Reading `since` as users write it: `7d`, `24h`, or a date (`2026-11-01`).

Summaries count whole days (`parse_since`); the request log starts at a moment
(`parse_moment`). Both read the same words.
"""

import re
from datetime import date, datetime, timedelta

_RELATIVE = re.compile(r"^(\d{1,5})([dh])$")


def parse_moment(text: str, now: float) -> float:
    """`24h`, `7d` (that long before `now`) or an ISO date or time (local) as unix seconds.

    Raises ValueError with a message fit to show the user.
    """
    match = _RELATIVE.match(text.strip().lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        if amount == 0:
            raise ValueError("the period must be at least 1h or 1d")
        if unit == "h":
            return now - amount * 3600
        # Calendar days on the local clock, so `7d` lands on the same wall time a week ago.
        return (datetime.fromtimestamp(now) - timedelta(days=amount)).timestamp()
    try:
        return datetime.fromisoformat(text.strip().upper()).timestamp()  # naive: local time
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"cannot read {text!r} as a time: use 24h, 7d or a date like 2026-11-01"
        ) from None


def parse_since(text: str, now: datetime | None = None) -> date:
    """The first local day a period covers; `7d` is today and the six days before it.

    Raises ValueError with a message fit to show the user.
    """
    now = now or datetime.now()
    value = text.strip().lower()
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        if amount == 0:
            raise ValueError("the period must be at least 1d or 1h")
        if unit == "d":
            return now.date() - timedelta(days=amount - 1)
        return (now - timedelta(hours=amount)).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a period: use 7d, 24h or a date like 2026-11-01"
        ) from None
