"""The usage summary: today, lifetime, a daily trend and the top rows of every breakdown.

Built from the daily rollups alone, so it costs the same at any history size. The gateway
serves it at `/_gateway/admin/usage`; `azt usage` builds it straight from the database.
"""

import time
from datetime import date
from pathlib import Path
from typing import Any

from azt.records.rollup import Aggregate
from azt.store.requests import RequestStore, by_key, local_day, today

TREND_DAYS = 30
TOP_ROWS = 16  # accounts, models, endpoints and errors listed in a summary
TOP_SMALL_ROWS = 8  # sources and image routes


def usage_summary(
    store: RequestStore,
    *,
    since: date | None = None,
    database: Path | None = None,
    process: Aggregate | None = None,
    process_started_at: float | None = None,
    top: int | None = TOP_ROWS,
) -> dict[str, Any]:
    """`since` limits the breakdowns (and adds a `period` total); `top=None` lists every row."""
    now = time.time()
    day = today()
    since_day = since.isoformat() if since else None
    small = TOP_SMALL_ROWS if top is not None else None

    def rows(dimension: str, limit: int | None) -> list[dict[str, Any]]:
        return by_key(store.breakdown(dimension, since_day, limit))

    return {
        "generated_at": now,
        "today": local_day(now),
        "since": since_day,
        "database": str(database) if database else None,
        "process_started_at": process_started_at,
        "process": process.as_json() if process is not None else None,
        "today_totals": store.total(day.isoformat()).as_json(),
        "lifetime": store.total().as_json(),
        "period": store.total(since_day).as_json() if since_day else None,
        "daily": [{"date": d, **a.as_json()} for d, a in store.daily(TREND_DAYS, day)],
        "by_account": rows("account", top),
        "by_model": rows("model", top),
        "by_endpoint": rows("endpoint", top),
        "by_error": rows("error", top),
        "by_source": rows("source", small),
        "by_image_route": rows("image_route", small),
    }
