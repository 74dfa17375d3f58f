"""Request records for tests that need one without serving a request."""

from dataclasses import replace
from typing import Any

from azt.config import database_path
from azt.dialects.common.usage import TokenUsage
from azt.records.record import RequestRecord
from azt.store.db import open_database
from azt.store.requests import RequestStore


def make_record(**overrides: Any) -> RequestRecord:
    """A successful, unstreamed chat.completions request with usage and cost; override any field."""
    base = RequestRecord(
        id="flow-1",
        started_at=1_800_000_000.0,
        ingress="reverse",
        client="127.0.0.1",
        source="curl",
        source_version="8.5.0",
        method="POST",
        endpoint="chat.completions",
        dialect="chat",
        stream=False,
        model_requested="gpt-5.4",
        model_served="gpt-5.4",
        account="acct-a",
        status=200,
        error_type=None,
        attempts=1,
        duration_ms=250.0,
        ttfb_ms=40.0,
        usage=TokenUsage(input=100, cached=40, output=50, reasoning=20, total=150),
        cost_micro_usd=500,
    )
    return replace(base, **overrides)


def store_records(*records: RequestRecord) -> None:
    """Commit `records` to the data directory's database, as the gateway's writer would."""
    conn = open_database(database_path())
    try:
        RequestStore(conn).add(list(records))
    finally:
        conn.close()
