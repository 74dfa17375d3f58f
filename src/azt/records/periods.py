"""Reading a `since` period as users write it: `7d`, `24h`, or a date (`2026-11-01`)."""

import re
from datetime import date, datetime, timedelta

_RELATIVE = re.compile(r"^(\d{1,5})([dh])$")


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
