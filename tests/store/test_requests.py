"""The request log in SQLite: records with their rollups, pruning, listing and the rollup reads."""

import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from azt.dialects.common.usage import TokenUsage
from azt.records.record import RequestRecord
from azt.records.rollup import BUCKET_BOUNDS_MS, BUCKET_COLUMNS, Aggregate
from azt.store import db
from azt.store.db import open_database
from azt.store.requests import RequestFilter, RequestStore, by_key, local_day
from support.records import make_record as shared_record

TODAY = date(2026, 11, 22)


def at(day: int, hour: int = 12, minute: int = 0, second: float = 0.0) -> float:
    """A local time on a day of November 2026, as unix seconds."""
    return datetime(2026, 11, day, hour, minute).timestamp() + second


def make_record(n: int, **overrides: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "id": f"r{n}",
        "started_at": at(22, 10, 0, n),
        "source": "codex-cli",
        "source_version": "0.169.0",
        "endpoint": "responses",
        "dialect": "responses",
        "stream": True,
    }
    return shared_record(**(values | overrides))


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = open_database(tmp_path / "azt.db")
    yield connection
    connection.close()


@pytest.fixture
def store(conn: sqlite3.Connection) -> RequestStore:
    return RequestStore(conn)


def ids(found: list[tuple[int, RequestRecord]]) -> list[str]:
    return [record.id for _, record in found]


# -- schema -----------------------------------------------------------------------------------


def test_migration_creates_the_request_tables(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS) >= 3
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"requests", "usage_rollup", "requests_started_at"} <= tables
    rollup = {row[1] for row in conn.execute("PRAGMA table_info(usage_rollup)")}
    assert rollup == {"day", "dimension", "key", *Aggregate().columns()}


def test_migration_upgrades_an_older_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with monkeypatch.context() as patch:
        patch.setattr(db, "MIGRATIONS", db.MIGRATIONS[:2])
        old = open_database(path)
        assert old.execute("PRAGMA user_version").fetchone()[0] == 2
        old.close()
    upgraded = open_database(path)
    try:
        assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(db.MIGRATIONS)
        RequestStore(upgraded).add([make_record(1)])
        assert RequestStore(upgraded).count(RequestFilter()) == 1
    finally:
        upgraded.close()
    again = open_database(path)  # reopening migrates nothing and keeps the data
    try:
        assert RequestStore(again).count(RequestFilter()) == 1
    finally:
        again.close()


# -- add --------------------------------------------------------------------------------------


def test_records_round_trip(store: RequestStore) -> None:
    records = [
        make_record(1),
        make_record(
            2,
            ingress="proxy",
            stream=False,
            source="openai-sdk-python",
            source_version=None,
            model_served=None,
            account=None,
            status=None,
            error_type="client_disconnected",
            attempts=0,
            duration_ms=12.345678,
            ttfb_ms=None,
            usage=None,
            cost_micro_usd=None,
        ),
        make_record(
            3,
            endpoint="images.generations",
            dialect="images",
            image_count=2,
            image_route="images-api",
            usage=TokenUsage(input=5, output=4000, total=4005),
            cost_micro_usd=160_050,
            preview_in="draw a cat",
            preview_out="…",
        ),
        make_record(4, usage=TokenUsage(), cost_micro_usd=0),  # zero usage is known usage
    ]
    store.add(records)
    found = store.find(RequestFilter())
    assert [record for _, record in found] == records[::-1]
    seqs = [seq for seq, _ in found]
    assert seqs == sorted(seqs, reverse=True)
    assert store.last_seq() == seqs[0]


def test_add_nothing(store: RequestStore) -> None:
    store.add([])
    assert store.count(RequestFilter()) == 0
    assert store.total() == Aggregate()


def test_duplicate_ids_are_skipped_and_not_counted_twice(store: RequestStore) -> None:
    one, two, three = make_record(1), make_record(2), make_record(3, account="acct-b")
    store.add([one, two])
    store.add([two, three])  # a batch re-added after an uncertain failure
    store.add([three, replace(three, status=500)])  # the same id twice in one batch
    assert store.count(RequestFilter()) == 3
    total = store.total()
    assert total.requests == 3 and total.successes == 3
    assert total.total_tokens == 3 * 150
    assert {key: a.requests for key, a in store.breakdown("account")} == {
        "acct-a": 2,
        "acct-b": 1,
    }
    assert store.breakdown("error") == []


def test_a_batch_larger_than_one_statement_allows_is_stored_whole(
    conn: sqlite3.Connection, store: RequestStore
) -> None:
    """Rows go in as many rows per statement as SQLite's parameter limit allows."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)  # a few rows per statement
    batch = [make_record(n, model_requested=f"m{n % 7}") for n in range(60)]
    store.add(batch)
    assert store.count(RequestFilter(limit=100)) == 60
    assert store.total().requests == 60
    assert sum(a.requests for _, a in store.breakdown("model")) == 60


def test_a_failed_batch_leaves_nothing_behind(store: RequestStore) -> None:
    store.add([make_record(1)])
    broken = make_record(3, client=object())  # cannot be stored
    with pytest.raises(sqlite3.Error):
        store.add([make_record(2), broken])
    # Neither the good record of that batch nor any rollup of it was kept.
    assert ids(store.find(RequestFilter())) == ["r1"]
    assert store.total().requests == 1
    store.add([make_record(2)])  # and the connection is usable again
    assert store.total().requests == 2


# -- prune ------------------------------------------------------------------------------------


def test_prune_removes_old_records_and_keeps_rollups(store: RequestStore) -> None:
    old = [make_record(n, started_at=at(1, 9, n)) for n in range(5)]
    boundary = make_record(10, started_at=at(10))
    new = [make_record(n, started_at=at(20, 9, n - 20)) for n in range(20, 23)]
    store.add([*old, boundary, *new])
    before = store.total()
    assert store.prune(at(10)) == len(old)
    assert set(ids(store.find(RequestFilter()))) == {"r10", "r20", "r21", "r22"}
    assert store.total() == before  # lifetime totals survive any retention
    assert store.daily(30, TODAY)[21] == ("2026-11-01", summed(old))
    assert store.prune(at(10)) == 0
    assert store.prune(at(23)) == 4
    assert store.count(RequestFilter()) == 0
    assert store.total() == before


def summed(records: list[RequestRecord]) -> Aggregate:
    total = Aggregate()
    for record in records:
        total.add(Aggregate.of(record))
    return total


# -- find and count ---------------------------------------------------------------------------

FILTER_SET = [
    make_record(1, started_at=at(20, 8)),
    make_record(2, started_at=at(20, 9), account="acct-b", source="curl", endpoint="models"),
    make_record(3, started_at=at(21, 8), status=429, error_type="usage_limit_reached"),
    make_record(4, started_at=at(21, 9), model_served=None, model_requested="gpt-5"),
    make_record(5, started_at=at(21, 10), model_served="gpt-5", model_requested="gpt-5.4"),
    make_record(6, started_at=at(22, 8), status=None, error_type="client_disconnected"),
    make_record(7, started_at=at(22, 9), account=None, status=500),
    make_record(8, started_at=at(22, 10), status=200, error_type="response.failed"),
    make_record(9, started_at=at(22, 11), source="openai-sdk-python", account="acct-b"),
    make_record(10, started_at=at(22, 12), endpoint="chat.completions", status=404),
]


@pytest.mark.parametrize(
    ("query", "matches"),
    [
        (RequestFilter(), lambda r: True),
        (RequestFilter(since=at(21, 9)), lambda r: r.started_at >= at(21, 9)),
        (RequestFilter(until=at(21, 9)), lambda r: r.started_at < at(21, 9)),
        (
            RequestFilter(since=at(21), until=at(22, 9)),
            lambda r: at(21) <= r.started_at < at(22, 9),
        ),
        (RequestFilter(endpoint="models"), lambda r: r.endpoint == "models"),
        (RequestFilter(endpoint="nope"), lambda r: False),
        (RequestFilter(account="acct-b"), lambda r: r.account == "acct-b"),
        (RequestFilter(source="curl"), lambda r: r.source == "curl"),
        (RequestFilter(status=200), lambda r: r.status == 200),
        (RequestFilter(status=404), lambda r: r.status == 404),
        # The model a record is counted under: the served one, else the requested one.
        (RequestFilter(model="gpt-5"), lambda r: r.model == "gpt-5"),
        (RequestFilter(model="gpt-5.4"), lambda r: r.model == "gpt-5.4"),
        (RequestFilter(errors_only=True), lambda r: not r.ok),
        (
            RequestFilter(errors_only=True, since=at(22), account="acct-a"),
            lambda r: not r.ok and r.started_at >= at(22) and r.account == "acct-a",
        ),
        (
            RequestFilter(status=200, errors_only=True),
            lambda r: r.status == 200 and not r.ok,
        ),
    ],
)
def test_find_and_count_filter(
    store: RequestStore, query: RequestFilter, matches: Callable[[RequestRecord], bool]
) -> None:
    store.add(FILTER_SET)
    expected = [r.id for r in reversed(FILTER_SET) if matches(r)]
    assert ids(store.find(query)) == expected
    assert store.count(query) == len(expected)


def test_paging_back_and_following(store: RequestStore) -> None:
    store.add([make_record(n) for n in range(1, 26)])
    seq_of = {record.id: seq for seq, record in store.find(RequestFilter(limit=1000))}

    page = store.find(RequestFilter(limit=10))
    assert ids(page) == [f"r{n}" for n in range(25, 15, -1)]
    page = store.find(RequestFilter(limit=10, before_seq=page[-1][0]))
    assert ids(page) == [f"r{n}" for n in range(15, 5, -1)]
    page = store.find(RequestFilter(limit=10, before_seq=page[-1][0]))
    assert ids(page) == [f"r{n}" for n in range(5, 0, -1)]
    assert store.find(RequestFilter(before_seq=page[-1][0])) == []

    # Following: only what came after the last seen sequence number.
    last = store.last_seq()
    assert store.find(RequestFilter(after_seq=last)) == []
    store.add([make_record(n) for n in range(26, 29)])
    assert ids(store.find(RequestFilter(after_seq=last))) == ["r28", "r27", "r26"]
    assert store.count(RequestFilter(after_seq=last)) == 3

    window = RequestFilter(after_seq=seq_of["r10"], before_seq=seq_of["r14"])
    assert ids(store.find(window)) == ["r13", "r12", "r11"]
    assert store.count(window) == 3


@pytest.mark.parametrize(("limit", "returned"), [(0, 1), (-5, 1), (1, 1), (7, 7), (5000, 1000)])
def test_find_limit_is_clamped(store: RequestStore, limit: int, returned: int) -> None:
    store.add([make_record(n) for n in range(1005)])
    assert len(store.find(RequestFilter(limit=limit))) == returned
    assert store.count(RequestFilter(limit=limit)) == 1005  # count ignores the limit


def test_last_seq(store: RequestStore) -> None:
    assert store.last_seq() == 0
    store.add([make_record(1), make_record(2)])
    first = store.last_seq()
    store.add([make_record(2)])  # a duplicate does not advance it
    assert store.last_seq() == first
    store.add([make_record(3)])
    assert store.last_seq() > first


# -- rollup reads -----------------------------------------------------------------------------


def test_total_since_day(store: RequestStore) -> None:
    store.add(
        [
            make_record(1, started_at=at(20)),
            make_record(2, started_at=at(21, 0, 0)),
            make_record(3, started_at=at(21, 23, 59)),
            make_record(4, started_at=at(22), usage=None),
        ]
    )
    assert store.total().requests == 4
    assert store.total("2026-11-21").requests == 3
    assert store.total("2026-11-22").requests == 1
    assert store.total("2026-11-22").usage_unknown == 1
    assert store.total("2026-11-23") == Aggregate()
    assert store.total(dimension="account").requests == 4  # every record has one account key
    assert store.total(dimension="error") == Aggregate()


def test_daily_is_zero_filled_newest_first(store: RequestStore) -> None:
    store.add(
        [
            make_record(1, started_at=at(22)),
            make_record(2, started_at=at(22, 13)),
            make_record(3, started_at=at(20)),
            make_record(4, started_at=at(10)),  # before the window
        ]
    )
    days = store.daily(5, TODAY)
    assert [day for day, _ in days] == [
        "2026-11-22",
        "2026-11-21",
        "2026-11-20",
        "2026-11-19",
        "2026-11-18",
    ]
    assert [a.requests for _, a in days] == [2, 0, 1, 0, 0]
    assert days[1][1] == Aggregate()
    assert store.daily(1, TODAY) == [days[0]]
    assert store.daily(0, TODAY) == []
    # A day with records after `today` is not listed.
    assert [a.requests for _, a in store.daily(3, date(2026, 11, 21))] == [0, 1, 0]


def test_breakdown_order_and_limit(store: RequestStore) -> None:
    def rec(n: int, account: str, total: int) -> RequestRecord:
        return make_record(n, account=account, usage=TokenUsage(input=total, total=total))

    store.add(
        [
            rec(1, "c", 10),
            rec(2, "c", 10),
            rec(3, "a", 5),
            rec(4, "a", 15),
            rec(5, "b", 30),
            rec(6, "b", 0),
            rec(7, "z", 1000),
            rec(8, "d", 10),
            rec(9, "d", 10),
            rec(10, "d", 10),
        ]
    )
    rows = store.breakdown("account")
    # Most requests first, then most tokens, then by name.
    assert [(key, a.requests, a.total_tokens) for key, a in rows] == [
        ("d", 3, 30),
        ("b", 2, 30),
        ("a", 2, 20),
        ("c", 2, 20),
        ("z", 1, 1000),
    ]
    assert store.breakdown("account", limit=2) == rows[:2]
    assert store.breakdown("account", limit=0) == []
    assert store.breakdown("nonsense") == []
    listed = by_key(rows)
    assert listed[0]["key"] == "d" and listed[0]["requests"] == 3


# -- exactness --------------------------------------------------------------------------------

ACCOUNTS = ["acct-a", "acct-b", "acct-c", None]
MODELS = [
    ("gpt-5.4", "gpt-5.4"),
    ("gpt-5.5", None),
    ("gpt-5.4-mini", "gpt-5.4-mini"),
    (None, None),
    ("gpt-5", "gpt-5-codex"),
]
SOURCES = ["codex-cli", "openai-sdk-python", "claude-code", "curl"]
ENDPOINTS = ["responses", "chat.completions", "codex.responses"]
DURATIONS = [
    0.25,
    100.0,
    100.25,
    299.75,
    300.0,
    999.5,
    1500.0,
    4999.75,
    30000.0,
    120000.0,
    120000.25,
    250000.5,
]
FAILURES = [
    (429, "usage_limit_reached"),
    (500, None),
    (502, "upstream_error"),
    (None, "client_disconnected"),
    (200, "response.failed"),
    (404, None),
]
DAYS = [1, 15, 16, 16, 18, 21, 22, 22]  # gaps to be zero-filled; Nov 1 is outside the trend


def mixed_records(count: int = 42, seed: int = 20261122) -> list[RequestRecord]:
    rng = random.Random(seed)
    records = []
    for n in range(count):
        kind = n % 6
        requested, served = MODELS[n % len(MODELS)]
        status: int | None
        status, error = (200, None) if kind < 3 else FAILURES[(n // 6) % len(FAILURES)]
        usage: TokenUsage | None = None
        if kind in (0, 1, 3) or (kind == 5 and n % 2):
            inp = rng.randint(0, 50_000)
            out = rng.randint(0, 8_000)
            usage = TokenUsage(
                input=inp,
                cached=rng.randint(0, inp),
                output=out,
                reasoning=rng.randint(0, out),
                total=inp + out,
            )
        images, route = 0, None
        if kind == 2:
            images, route = rng.randint(1, 4), "images-api"
            inp = rng.randint(1, 500)
            usage = TokenUsage(input=inp, output=4160, total=inp + 4160)
        elif n % 7 == 0:
            images, route = 1, "image-tool"
        cost = None if usage is None or n % 5 == 0 else rng.randint(0, 3_000_000)
        records.append(
            make_record(
                n,
                started_at=at(DAYS[n % len(DAYS)], rng.randint(0, 23), rng.randint(0, 59)),
                source=SOURCES[n % len(SOURCES)],
                endpoint=ENDPOINTS[n % len(ENDPOINTS)],
                model_requested=requested,
                model_served=served,
                account=ACCOUNTS[(n * 7) % len(ACCOUNTS)],
                status=status,
                error_type=error,
                attempts=rng.randint(0, 4),
                duration_ms=DURATIONS[n % len(DURATIONS)],
                ttfb_ms=None if n % 4 == 0 else rng.randint(0, 4000) / 4,
                usage=usage,
                image_count=images,
                image_route=route,
                cost_micro_usd=cost,
            )
        )
    return records


def expected_bucket(duration_ms: float) -> str:
    for bound in BUCKET_BOUNDS_MS:
        if duration_ms <= bound:
            return f"b{bound}"
    return "binf"


COUNTERS = [
    "requests",
    "successes",
    "failures",
    "failovers",
    "usage_unknown",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "images",
    "cost_micro_usd",
    "unpriced",
    "duration_ms_total",
    "ttfb_ms_total",
    "ttfb_count",
]


def expected_sum(records: list[RequestRecord]) -> dict[str, Any]:
    """Every rollup column, summed straight from the records."""
    out: dict[str, Any] = {**dict.fromkeys(COUNTERS, 0), **dict.fromkeys(BUCKET_COLUMNS, 0)}
    for r in records:
        ok = r.status is not None and r.status < 400 and r.error_type is None
        out["requests"] += 1
        out["successes"] += ok
        out["failures"] += not ok
        out["failovers"] += max(r.attempts - 1, 0)
        if r.usage is None:
            out["usage_unknown"] += 1
        else:
            out["input_tokens"] += r.usage.input
            out["cached_tokens"] += r.usage.cached
            out["output_tokens"] += r.usage.output
            out["reasoning_tokens"] += r.usage.reasoning
            out["total_tokens"] += r.usage.total
            if r.cost_micro_usd is None:
                out["unpriced"] += 1
        out["images"] += r.image_count
        out["cost_micro_usd"] += r.cost_micro_usd or 0
        out["duration_ms_total"] += r.duration_ms
        if r.ttfb_ms is not None:
            out["ttfb_ms_total"] += r.ttfb_ms
            out["ttfb_count"] += 1
        out[expected_bucket(r.duration_ms)] += 1
    return out


KEY_OF: dict[str, Callable[[RequestRecord], str | None]] = {
    "account": lambda r: r.account if r.account is not None else "-",
    "model": lambda r: r.model_served or r.model_requested or "-",
    "endpoint": lambda r: r.endpoint,
    "source": lambda r: r.source,
    "error": lambda r: (
        None
        if r.status is not None and r.status < 400 and r.error_type is None
        else r.error_type or (f"http_{r.status}" if r.status is not None else "http_none")
    ),
    "image_route": lambda r: r.image_route or "none",
}


def day_of(record: RequestRecord) -> str:
    return datetime.fromtimestamp(record.started_at).date().isoformat()


def test_rollups_equal_sums_of_the_records(store: RequestStore) -> None:
    records = mixed_records()
    # The mix covers what the rollups must get right.
    assert {r.ok for r in records} == {True, False}
    assert any(r.usage is None for r in records)
    assert any(r.usage is not None and r.cost_micro_usd is None for r in records)
    assert any(r.usage and r.usage.cached and r.usage.reasoning for r in records)
    assert {r.image_route for r in records} == {None, "images-api", "image-tool"}
    assert None in {r.account for r in records} and None in {r.status for r in records}
    assert len({expected_bucket(r.duration_ms) for r in records}) >= 8
    assert {r.error_type for r in records} >= {e for _, e in FAILURES}
    assert local_day(records[0].started_at) == day_of(records[0])

    # Written in batches, one of them twice, as the writer would after an uncertain failure.
    for start in range(0, len(records), 10):
        store.add(records[start : start + 10])
    store.add(records[10:20])
    assert store.count(RequestFilter()) == len(records)

    every_day = sorted({day_of(r) for r in records})
    for since in [None, *every_day, "2026-11-17", "2026-12-01"]:
        chosen = [r for r in records if since is None or day_of(r) >= since]
        assert store.total(since).columns() == expected_sum(chosen), since

        for dimension, key_of in KEY_OF.items():
            groups: dict[str, list[RequestRecord]] = {}
            for r in chosen:
                key = key_of(r)
                if key is not None:
                    groups.setdefault(key, []).append(r)
            expected = sorted(
                ((key, expected_sum(group)) for key, group in groups.items()),
                key=lambda kv: (-kv[1]["requests"], -kv[1]["total_tokens"], kv[0]),
            )
            rows = store.breakdown(dimension, since)
            assert [(key, a.columns()) for key, a in rows] == expected, (dimension, since)
            assert store.breakdown(dimension, since, limit=2) == rows[:2]
            assert store.total(since, dimension=dimension).columns() == expected_sum(
                [r for r in chosen if key_of(r) is not None]
            )

    days = store.daily(10, TODAY)
    assert [day for day, _ in days] == [(TODAY - timedelta(n)).isoformat() for n in range(10)]
    for day, aggregate in days:
        on_day = [r for r in records if day_of(r) == day]
        assert aggregate.columns() == expected_sum(on_day), day
    assert {day for day, a in days if a.requests} == {d for d in every_day if d >= "2026-11-13"}
    assert sum(a.requests for _, a in days) < len(records)  # Nov 1 is outside the window


def test_exactness_covers_every_rollup_column() -> None:
    """Guard for the exactness test: a new rollup column must be summed there too."""
    assert [f.name for f in fields(Aggregate) if f.name != "buckets"] == COUNTERS
    assert list(Aggregate().columns()) == [*COUNTERS, *BUCKET_COLUMNS]
