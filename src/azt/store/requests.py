"""Request records and their daily rollups in SQLite.

Each batch of records is inserted together with the rollup increments it causes, in one
transaction: the raw log and the summaries can never disagree, and a crash loses only what
was not yet committed. Raw records are pruned by age; rollups are kept for good, so lifetime
totals survive any retention setting.
"""

import functools
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from azt.dialects.common.usage import TokenUsage
from azt.records.record import RequestRecord
from azt.records.rollup import Aggregate, cuts, sort_rows

_RECORD_COLUMNS = (
    "id",
    "started_at",
    "day",
    "ingress",
    "client",
    "source",
    "source_version",
    "method",
    "endpoint",
    "dialect",
    "stream",
    "model_requested",
    "model_served",
    "account",
    "status",
    "ok",
    "error_type",
    "attempts",
    "duration_ms",
    "ttfb_ms",
    "usage_known",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "image_count",
    "image_route",
    "cost_micro_usd",
    "preview_in",
    "preview_out",
)
_ROLLUP_COLUMNS = tuple(Aggregate().columns())


# Statements that insert many rows at once. The record writer shares the GIL with the event
# loop; every SQLite call releases the GIL and must wait to get it back, so a statement per
# row made a busy gateway's writer fall seconds behind. A batch costs a few calls instead.
@functools.cache
def _insert_records(rows: int) -> str:
    values = ", ".join([f"({', '.join('?' for _ in _RECORD_COLUMNS)})"] * rows)
    return f"INSERT INTO requests ({', '.join(_RECORD_COLUMNS)}) VALUES {values}"


@functools.cache
def _upsert_rollups(rows: int) -> str:
    columns = ("day", "dimension", "key", *_ROLLUP_COLUMNS)
    values = ", ".join([f"({', '.join('?' for _ in columns)})"] * rows)
    return (
        f"INSERT INTO usage_rollup ({', '.join(columns)}) VALUES {values} "
        "ON CONFLICT (day, dimension, key) DO UPDATE SET "
        + ", ".join(f"{c} = {c} + excluded.{c}" for c in _ROLLUP_COLUMNS)
    )


def _insert_many(
    conn: sqlite3.Connection, statement: Callable[[int], str], rows: Sequence[Sequence[Any]]
) -> None:
    """`rows` in as few statements as SQLite's limit on parameters allows."""
    if not rows:
        return
    per_statement = max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(rows[0]))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        conn.execute(statement(len(chunk)), [value for row in chunk for value in row])


_IDS_PER_QUERY = 900  # under the oldest SQLite limit on parameters (999)
_SUMS = ", ".join(f"SUM({c}) AS {c}" for c in _ROLLUP_COLUMNS)


def _in_order(values: dict[str, Any], names: Sequence[str]) -> list[Any]:
    return [values[name] for name in names]


def local_day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).date().isoformat()


def _record_row(record: RequestRecord) -> tuple[Any, ...]:
    usage = record.usage
    values: dict[str, Any] = {
        **{name: getattr(record, name) for name in _RECORD_COLUMNS if hasattr(record, name)},
        "day": local_day(record.started_at),
        "stream": int(record.stream),
        "ok": int(record.ok),
        "usage_known": int(usage is not None),
        "input_tokens": usage.input if usage else None,
        "cached_tokens": usage.cached if usage else None,
        "output_tokens": usage.output if usage else None,
        "reasoning_tokens": usage.reasoning if usage else None,
        "total_tokens": usage.total if usage else None,
    }
    return tuple(values[name] for name in _RECORD_COLUMNS)


def record_from_row(row: sqlite3.Row) -> RequestRecord:
    usage = (
        TokenUsage(
            row["input_tokens"],
            row["cached_tokens"],
            row["output_tokens"],
            row["reasoning_tokens"],
            row["total_tokens"],
        )
        if row["usage_known"]
        else None
    )
    return RequestRecord(
        id=row["id"],
        started_at=row["started_at"],
        ingress=row["ingress"],
        client=row["client"],
        source=row["source"],
        source_version=row["source_version"],
        method=row["method"],
        endpoint=row["endpoint"],
        dialect=row["dialect"],
        stream=bool(row["stream"]),
        model_requested=row["model_requested"],
        model_served=row["model_served"],
        account=row["account"],
        status=row["status"],
        error_type=row["error_type"],
        attempts=row["attempts"],
        duration_ms=row["duration_ms"],
        ttfb_ms=row["ttfb_ms"],
        usage=usage,
        image_count=row["image_count"],
        image_route=row["image_route"],
        cost_micro_usd=row["cost_micro_usd"],
        preview_in=row["preview_in"],
        preview_out=row["preview_out"],
    )


@dataclass(frozen=True)
class RequestFilter:
    """Which records to list; every field narrows the result."""

    after_seq: int | None = None  # only records newer than this (for following)
    before_seq: int | None = None  # only records older than this (for paging back)
    since: float | None = None  # unix seconds
    until: float | None = None
    endpoint: str | None = None
    model: str | None = None
    account: str | None = None
    source: str | None = None
    status: int | None = None
    errors_only: bool = False
    limit: int = 50

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, operator, value in (
            ("seq", ">", self.after_seq),
            ("seq", "<", self.before_seq),
            ("started_at", ">=", self.since),
            ("started_at", "<", self.until),
            ("endpoint", "=", self.endpoint),
            ("account", "=", self.account),
            ("source", "=", self.source),
            ("status", "=", self.status),
        ):
            if value is not None:
                clauses.append(f"{column} {operator} ?")
                params.append(value)
        if self.model is not None:
            clauses.append("(model_served = ? OR (model_served IS NULL AND model_requested = ?))")
            params += [self.model, self.model]
        if self.errors_only:
            clauses.append("ok = 0")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class RequestStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, records: Sequence[RequestRecord]) -> None:
        """Insert records and their rollup increments in one transaction.

        A record already stored (same id) is skipped, rollups included: re-adding a batch
        after an uncertain failure never counts anything twice.
        """
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            seen = self._stored_ids([record.id for record in records])
            fresh: list[RequestRecord] = []
            for record in records:
                if record.id not in seen:
                    seen.add(record.id)
                    fresh.append(record)
            increments: dict[tuple[str, str, str], Aggregate] = defaultdict(Aggregate)
            for record in fresh:
                day = local_day(record.started_at)
                one = Aggregate.of(record)
                for dimension, key in cuts(record):
                    increments[(day, dimension, key)].add(one)
            _insert_many(conn, _insert_records, [_record_row(record) for record in fresh])
            rollups = [
                (day, dimension, key, *_in_order(aggregate.columns(), _ROLLUP_COLUMNS))
                for (day, dimension, key), aggregate in increments.items()
            ]
            _insert_many(conn, _upsert_rollups, rollups)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _stored_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are stored already (one query per few thousand ids)."""
        found: set[str] = set()
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" for _ in chunk)
            rows = self._conn.execute(f"SELECT id FROM requests WHERE id IN ({marks})", chunk)
            found.update(row[0] for row in rows)
        return found

    def prune(self, older_than: float) -> int:
        """Delete raw records that started before `older_than`; rollups stay."""
        return self._conn.execute(
            "DELETE FROM requests WHERE started_at < ?", (older_than,)
        ).rowcount

    def find(self, query: RequestFilter) -> list[tuple[int, RequestRecord]]:
        """Matching records with their sequence numbers, newest first."""
        where, params = query.where()
        rows = self._conn.execute(
            f"SELECT * FROM requests{where} ORDER BY seq DESC LIMIT ?",
            [*params, max(1, min(query.limit, 1000))],
        ).fetchall()
        return [(row["seq"], record_from_row(row)) for row in rows]

    def count(self, query: RequestFilter) -> int:
        where, params = query.where()
        row = self._conn.execute(f"SELECT COUNT(*) FROM requests{where}", params).fetchone()
        count: int = row[0]
        return count

    def last_seq(self) -> int:
        seq: int = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM requests").fetchone()[0]
        return seq

    # Rollup reads: every one is a sum over at most (days x keys) small rows.

    def total(self, since_day: str | None = None, dimension: str = "all") -> Aggregate:
        row = self._conn.execute(
            f"SELECT {_SUMS} FROM usage_rollup WHERE dimension = ? AND day >= ?",
            (dimension, since_day or ""),
        ).fetchone()
        return Aggregate.from_columns(row) if row["requests"] is not None else Aggregate()

    def daily(self, days: int, today: date) -> list[tuple[str, Aggregate]]:
        """The last `days` days, newest first, days without requests included as zeros."""
        first = today - timedelta(days=days - 1)
        rows = self._conn.execute(
            "SELECT * FROM usage_rollup WHERE dimension = 'all' AND day >= ?",
            (first.isoformat(),),
        ).fetchall()
        found = {row["day"]: Aggregate.from_columns(row) for row in rows}
        every_day = ((today - timedelta(days=n)).isoformat() for n in range(days))
        return [(day, found.get(day, Aggregate())) for day in every_day]

    def breakdown(
        self, dimension: str, since_day: str | None = None, limit: int | None = None
    ) -> list[tuple[str, Aggregate]]:
        rows = self._conn.execute(
            f"SELECT key, {_SUMS} FROM usage_rollup WHERE dimension = ? AND day >= ? GROUP BY key",
            (dimension, since_day or ""),
        ).fetchall()
        ranked = sort_rows([(row["key"], Aggregate.from_columns(row)) for row in rows])
        return ranked[:limit] if limit is not None else ranked


def by_key(rows: Iterable[tuple[str, Aggregate]]) -> list[dict[str, Any]]:
    return [{"key": key, **aggregate.as_json()} for key, aggregate in rows]


def today() -> date:
    return datetime.fromtimestamp(time.time()).date()
