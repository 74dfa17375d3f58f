"""Summing records: the aggregate every usage view is made of, and the dimensions it is cut by.

Durations go into fixed buckets (upper bounds in ms) so a percentile can be read from sums
alone; that is what lets the database keep daily rollups instead of scanning raw records.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from azt.records.record import RequestRecord

BUCKET_BOUNDS_MS = (100, 300, 500, 1000, 2000, 5000, 10000, 30000, 60000, 120000)
BUCKET_COLUMNS = tuple(f"b{bound}" for bound in BUCKET_BOUNDS_MS) + ("binf",)

NONE_KEY = "-"  # a request with no account or model (answered by azt itself, say)
NO_IMAGES = "none"

# Each dimension names the key a record is counted under; `all` is the grand total.
DIMENSIONS: dict[str, Callable[[RequestRecord], str | None]] = {
    "all": lambda r: "",
    "account": lambda r: r.account or NONE_KEY,
    "model": lambda r: r.model or NONE_KEY,
    "endpoint": lambda r: r.endpoint,
    "source": lambda r: r.source,
    "error": lambda r: None if r.ok else (r.error_type or f"http_{r.status or 'none'}"),
    "image_route": lambda r: r.image_route or NO_IMAGES,
}


def bucket_of(duration_ms: float) -> str:
    for bound, column in zip(BUCKET_BOUNDS_MS, BUCKET_COLUMNS, strict=False):
        if duration_ms <= bound:
            return column
    return "binf"


@dataclass
class Aggregate:
    requests: int = 0
    successes: int = 0
    failures: int = 0
    failovers: int = 0
    usage_unknown: int = 0  # requests the upstream reported no usage for
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0
    images: int = 0
    cost_micro_usd: int = 0
    unpriced: int = 0  # requests with usage but no price for their model
    duration_ms_total: float = 0.0
    ttfb_ms_total: float = 0.0
    ttfb_count: int = 0
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKET_COLUMNS, 0))

    @classmethod
    def of(cls, record: RequestRecord) -> "Aggregate":
        usage = record.usage
        aggregate = cls(
            requests=1,
            successes=int(record.ok),
            failures=int(not record.ok),
            failovers=record.failovers,
            usage_unknown=int(usage is None),
            images=record.image_count,
            cost_micro_usd=record.cost_micro_usd or 0,
            unpriced=int(usage is not None and record.cost_micro_usd is None),
            duration_ms_total=record.duration_ms,
            ttfb_ms_total=record.ttfb_ms or 0.0,
            ttfb_count=int(record.ttfb_ms is not None),
        )
        if usage is not None:
            aggregate.input_tokens = usage.input
            aggregate.cached_tokens = usage.cached
            aggregate.output_tokens = usage.output
            aggregate.reasoning_tokens = usage.reasoning
            aggregate.total_tokens = usage.total
        aggregate.buckets[bucket_of(record.duration_ms)] = 1
        return aggregate

    @classmethod
    def from_columns(cls, row: Mapping[str, Any]) -> "Aggregate":
        """From a database row holding one column per counter and per bucket."""
        names = [f.name for f in fields(cls) if f.name != "buckets"]
        counters: dict[str, Any] = {name: row[name] or 0 for name in names}
        aggregate = cls(**counters)
        aggregate.buckets = {column: row[column] or 0 for column in BUCKET_COLUMNS}
        return aggregate

    def columns(self) -> dict[str, Any]:
        """The counters and buckets flattened, as the database stores them."""
        flat = {k: v for k, v in asdict(self).items() if k != "buckets"}
        flat.update(self.buckets)
        return flat

    def add(self, other: "Aggregate") -> None:
        for f in fields(self):
            if f.name == "buckets":
                for column, count in other.buckets.items():
                    self.buckets[column] += count
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def percentile_ms(self, fraction: float) -> int | None:
        """The upper bound of the bucket holding that fraction of requests (None if none)."""
        if self.requests == 0:
            return None
        rank = fraction * self.requests
        seen = 0
        for bound, column in zip((*BUCKET_BOUNDS_MS, None), BUCKET_COLUMNS, strict=True):
            seen += self.buckets[column]
            if seen >= rank:
                return bound if bound is not None else -1
        return -1

    def as_json(self) -> dict[str, Any]:
        avg = self.duration_ms_total / self.requests if self.requests else None
        ttfb = self.ttfb_ms_total / self.ttfb_count if self.ttfb_count else None
        p95 = self.percentile_ms(0.95)
        return {
            "requests": self.requests,
            "successes": self.successes,
            "failures": self.failures,
            "failovers": self.failovers,
            "usage_unknown": self.usage_unknown,
            "input_tokens": self.input_tokens,
            "cached_tokens": self.cached_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
            "images": self.images,
            "cost_micro_usd": self.cost_micro_usd,
            "cost_usd": self.cost_micro_usd / 1_000_000,
            "unpriced": self.unpriced,
            "average_duration_ms": None if avg is None else round(avg, 1),
            "average_ttfb_ms": None if ttfb is None else round(ttfb, 1),
            # -1: beyond the largest bucket bound.
            "p95_duration_ms": p95,
            "duration_buckets": {
                **{
                    str(b): self.buckets[c]
                    for b, c in zip(BUCKET_BOUNDS_MS, BUCKET_COLUMNS, strict=False)
                },
                "inf": self.buckets["binf"],
            },
        }


def cuts(record: RequestRecord) -> Iterable[tuple[str, str]]:
    """The (dimension, key) pairs a record is counted under."""
    for dimension, key_of in DIMENSIONS.items():
        key = key_of(record)
        if key is not None:
            yield dimension, key


def sort_rows(rows: list[tuple[str, Aggregate]]) -> list[tuple[str, Aggregate]]:
    """Most requests first, then most tokens, then by name."""
    return sorted(rows, key=lambda row: (-row[1].requests, -row[1].total_tokens, row[0]))
