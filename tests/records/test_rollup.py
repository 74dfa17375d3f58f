"""The aggregate every usage view is summed into, its buckets, and the dimensions it is cut by."""

from dataclasses import fields
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azt.dialects.common.usage import TokenUsage
from azt.records.record import RequestRecord
from azt.records.rollup import (
    BUCKET_BOUNDS_MS,
    BUCKET_COLUMNS,
    DIMENSIONS,
    Aggregate,
    bucket_of,
    cuts,
    sort_rows,
)
from support.records import make_record as shared_record


def make_record(**overrides: Any) -> RequestRecord:
    """A streamed Responses request from the Codex CLI."""
    streamed: dict[str, Any] = {
        "source": "codex-cli",
        "source_version": "0.169.0",
        "endpoint": "responses",
        "dialect": "responses",
        "stream": True,
    }
    return shared_record(**(streamed | overrides))


# -- buckets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration_ms", "column"),
    [
        (0.0, "b100"),
        (-1.0, "b100"),
        (99.9, "b100"),
        (100.0, "b100"),  # the bound itself belongs to its bucket
        (100.001, "b300"),
        (300.0, "b300"),
        (999.999, "b1000"),
        (1000.0, "b1000"),
        (60000.0, "b60000"),
        (120000.0, "b120000"),
        (120000.01, "binf"),
        (1e12, "binf"),
        (float("inf"), "binf"),
    ],
)
def test_bucket_of(duration_ms: float, column: str) -> None:
    assert bucket_of(duration_ms) == column


def test_every_bound_goes_in_its_own_bucket() -> None:
    assert len(BUCKET_COLUMNS) == len(BUCKET_BOUNDS_MS) + 1
    assert list(BUCKET_BOUNDS_MS) == sorted(set(BUCKET_BOUNDS_MS))
    for bound, column in zip(BUCKET_BOUNDS_MS, BUCKET_COLUMNS, strict=False):
        assert bucket_of(bound) == column == f"b{bound}"


durations = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@given(durations, durations)
def test_bucket_of_is_monotonic(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert BUCKET_COLUMNS.index(bucket_of(low)) <= BUCKET_COLUMNS.index(bucket_of(high))


@given(durations)
def test_bucket_of_holds_its_duration(duration: float) -> None:
    index = BUCKET_COLUMNS.index(bucket_of(duration))
    upper = (*BUCKET_BOUNDS_MS, float("inf"))[index]
    lower = (0, *BUCKET_BOUNDS_MS)[index]
    assert lower <= duration <= upper
    assert index == 0 or duration > lower


# -- Aggregate.of -----------------------------------------------------------------------------


def counters(aggregate: Aggregate) -> dict[str, Any]:
    data = aggregate.columns()
    return {k: v for k, v in data.items() if v}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {},
            {
                "requests": 1,
                "successes": 1,
                "input_tokens": 100,
                "cached_tokens": 40,
                "output_tokens": 50,
                "reasoning_tokens": 20,
                "total_tokens": 150,
                "cost_micro_usd": 500,
                "duration_ms_total": 250.0,
                "ttfb_ms_total": 40.0,
                "ttfb_count": 1,
                "b300": 1,
            },
            id="success",
        ),
        pytest.param(
            {
                "status": 502,
                "error_type": "upstream_error",
                "attempts": 3,
                "usage": None,
                "cost_micro_usd": None,
                "ttfb_ms": None,
                "duration_ms": 70000.0,
            },
            {
                "requests": 1,
                "failures": 1,
                "failovers": 2,
                "usage_unknown": 1,
                "duration_ms_total": 70000.0,
                "b120000": 1,
            },
            id="failure-without-usage",
        ),
        pytest.param(
            {"cost_micro_usd": None, "model_served": "mystery", "duration_ms": 1e6},
            {
                "requests": 1,
                "successes": 1,
                "unpriced": 1,
                "input_tokens": 100,
                "cached_tokens": 40,
                "output_tokens": 50,
                "reasoning_tokens": 20,
                "total_tokens": 150,
                "duration_ms_total": 1e6,
                "ttfb_ms_total": 40.0,
                "ttfb_count": 1,
                "binf": 1,
            },
            id="usage-but-unpriced",
        ),
        pytest.param(
            {
                "usage": TokenUsage(),
                "cost_micro_usd": 0,
                "image_count": 2,
                "image_route": "images-api",
                "ttfb_ms": 0.0,
                "duration_ms": 0.0,
            },
            # Zero usage is known usage; a ttfb of 0 still counts as measured.
            {"requests": 1, "successes": 1, "images": 2, "ttfb_count": 1, "b100": 1},
            id="zero-usage-images",
        ),
        pytest.param(
            {"status": None, "error_type": "client_disconnected", "usage": None},
            {
                "requests": 1,
                "failures": 1,
                "usage_unknown": 1,
                "cost_micro_usd": 500,
                "duration_ms_total": 250.0,
                "ttfb_ms_total": 40.0,
                "ttfb_count": 1,
                "b300": 1,
            },
            id="client-gone",
        ),
    ],
)
def test_aggregate_of(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    assert counters(Aggregate.of(make_record(**overrides))) == expected


def test_aggregate_of_fresh_buckets() -> None:
    """Each aggregate has its own bucket dict (no shared mutable default)."""
    a, b = Aggregate(), Aggregate.of(make_record())
    assert a.buckets is not b.buckets
    assert sum(Aggregate().buckets.values()) == 0


# -- add, columns ---------------------------------------------------------------------------

COUNTER_NAMES = [f.name for f in fields(Aggregate) if f.name != "buckets"]

# Float counters hold whole numbers here, so sums are exact in any order.
aggregates = st.builds(
    lambda values, buckets: Aggregate(
        **{
            name: float(v) if name.endswith("_total") else v
            for name, v in zip(COUNTER_NAMES, values, strict=True)
        },
        buckets=dict(zip(BUCKET_COLUMNS, buckets, strict=True)),
    ),
    st.lists(st.integers(0, 10**12), min_size=len(COUNTER_NAMES), max_size=len(COUNTER_NAMES)),
    st.lists(st.integers(0, 10**9), min_size=len(BUCKET_COLUMNS), max_size=len(BUCKET_COLUMNS)),
)


def summed(*parts: Aggregate) -> Aggregate:
    total = Aggregate()
    for part in parts:
        total.add(part)
    return total


@given(aggregates, aggregates, aggregates)
def test_add_is_associative_and_commutative(a: Aggregate, b: Aggregate, c: Aggregate) -> None:
    left = summed(a)
    left.add(b)
    left.add(c)
    bc = summed(b)
    bc.add(c)
    right = summed(a)
    right.add(bc)
    assert left == right
    assert summed(c, b, a) == left


@given(aggregates, aggregates)
def test_add_sums_every_column(a: Aggregate, b: Aggregate) -> None:
    before_a, before_b = a.columns(), b.columns()
    a.add(b)
    assert a.columns() == {k: before_a[k] + before_b[k] for k in before_a}
    assert b.columns() == before_b  # the addend is left alone


@given(aggregates)
def test_zero_is_the_identity(a: Aggregate) -> None:
    assert summed(a) == a
    copy = Aggregate.from_columns(a.columns())
    copy.add(Aggregate())
    assert copy == a


@given(aggregates)
def test_columns_round_trip(a: Aggregate) -> None:
    columns = a.columns()
    assert list(columns) == [*COUNTER_NAMES, *BUCKET_COLUMNS]
    assert Aggregate.from_columns(columns) == a


def test_from_columns_reads_nulls_as_zero() -> None:
    """A SUM over no rows is NULL in SQL; such a row reads as an empty aggregate."""
    row = dict.fromkeys([*COUNTER_NAMES, *BUCKET_COLUMNS, "day", "key"])
    assert Aggregate.from_columns(row) == Aggregate()


def test_columns_do_not_alias_buckets() -> None:
    a = Aggregate.of(make_record())
    columns = a.columns()
    columns["b300"] = 99
    assert a.buckets["b300"] == 1


# -- percentiles and JSON -------------------------------------------------------------------


def with_buckets(**counts: int) -> Aggregate:
    aggregate = Aggregate(requests=sum(counts.values()))
    aggregate.buckets.update(counts)
    return aggregate


@pytest.mark.parametrize(
    ("aggregate", "fraction", "expected"),
    [
        (Aggregate(), 0.95, None),
        (with_buckets(b1000=1), 0.95, 1000),
        (with_buckets(b100=95, b1000=5), 0.95, 100),
        (with_buckets(b100=94, b1000=6), 0.95, 1000),
        (with_buckets(b100=19, b5000=1), 0.95, 100),
        (with_buckets(b100=18, b5000=2), 0.95, 5000),
        (with_buckets(b100=1, b300=1), 0.5, 100),
        (with_buckets(b100=1, b300=1), 0.51, 300),
        (with_buckets(b100=1, b300=1), 1.0, 300),
        (with_buckets(binf=3), 0.95, -1),  # beyond the largest bound
        (with_buckets(b100=99, binf=1), 1.0, -1),
    ],
)
def test_percentile_ms(aggregate: Aggregate, fraction: float, expected: int | None) -> None:
    assert aggregate.percentile_ms(fraction) == expected


@given(st.lists(durations, min_size=1, max_size=60))
def test_p95_bounds_the_true_percentile(samples: list[float]) -> None:
    """The p95 read from buckets is the upper bound of the bucket the true p95 falls in."""
    total = summed(*(Aggregate.of(make_record(duration_ms=d)) for d in samples))
    p95 = total.percentile_ms(0.95)
    ordered = sorted(samples)
    rank = -(-95 * len(ordered) // 100)  # nearest rank, ceil(0.95 n), exactly
    true = ordered[rank - 1]
    assert p95 == (-1 if bucket_of(true) == "binf" else int(bucket_of(true)[1:]))


def test_as_json() -> None:
    total = summed(
        Aggregate.of(make_record(duration_ms=100.0, ttfb_ms=10.0, cost_micro_usd=1_500_000)),
        Aggregate.of(make_record(duration_ms=200.0, ttfb_ms=None, cost_micro_usd=250_000)),
        Aggregate.of(
            make_record(status=500, error_type="x", duration_ms=300.5, ttfb_ms=20.0, usage=None)
        ),
    )
    data = total.as_json()
    assert data["requests"] == 3
    assert data["successes"] == 2 and data["failures"] == 1
    assert data["usage_unknown"] == 1
    assert data["total_tokens"] == 300
    assert data["cost_micro_usd"] == 1_750_000 + 500
    assert data["cost_usd"] == pytest.approx(1.7505)
    assert data["average_duration_ms"] == 200.2  # 600.5 / 3, rounded to 0.1
    assert data["average_ttfb_ms"] == 15.0  # only the two measured
    assert data["p95_duration_ms"] == 500
    assert data["duration_buckets"] == {
        **{str(b): 0 for b in BUCKET_BOUNDS_MS},
        "100": 1,
        "300": 1,
        "500": 1,
        "inf": 0,
    }
    assert list(data["duration_buckets"])[-1] == "inf"


def test_as_json_empty() -> None:
    data = Aggregate().as_json()
    assert data["requests"] == 0
    assert data["average_duration_ms"] is None
    assert data["average_ttfb_ms"] is None
    assert data["p95_duration_ms"] is None
    assert data["cost_usd"] == 0


# -- cuts and sorting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {},
            {
                "all": "",
                "account": "acct-a",
                "model": "gpt-5.4",
                "endpoint": "responses",
                "source": "codex-cli",
                "image_route": "none",
            },
            id="success-has-no-error-key",
        ),
        pytest.param(
            {"status": 429, "error_type": "usage_limit_reached"},
            {"error": "usage_limit_reached"},
            id="error-type",
        ),
        pytest.param({"status": 500}, {"error": "http_500"}, id="status-only"),
        pytest.param({"status": None}, {"error": "http_none"}, id="no-answer"),
        pytest.param(
            {"status": 200, "error_type": "response.failed"},
            {"error": "response.failed"},
            id="failed-inside-200",
        ),
        pytest.param({"account": None}, {"account": "-"}, id="no-account"),
        pytest.param(
            {"model_requested": None, "model_served": None}, {"model": "-"}, id="no-model"
        ),
        pytest.param(
            {"model_requested": "gpt-5.4", "model_served": "gpt-5.4-2026"},
            {"model": "gpt-5.4-2026"},
            id="served-model",
        ),
        pytest.param(
            {"model_requested": "gpt-5", "model_served": None},
            {"model": "gpt-5"},
            id="requested-model",
        ),
        pytest.param(
            {"image_route": "image-tool", "image_count": 1},
            {"image_route": "image-tool"},
            id="image-route",
        ),
    ],
)
def test_cuts(overrides: dict[str, Any], expected: dict[str, str]) -> None:
    base = dict(cuts(make_record()))
    found = dict(cuts(make_record(**overrides)))
    assert found == {**base, **expected}
    assert ("error" in found) is (not make_record(**overrides).ok)
    assert set(found) <= set(DIMENSIONS)


def test_sort_rows() -> None:
    def row(key: str, requests: int, tokens: int) -> tuple[str, Aggregate]:
        return key, Aggregate(requests=requests, total_tokens=tokens)

    rows = [row("c", 5, 10), row("a", 5, 10), row("b", 5, 20), row("z", 9, 0), row("y", 1, 99)]
    assert [key for key, _ in sort_rows(rows)] == ["z", "b", "a", "c", "y"]
    assert sort_rows([]) == []
