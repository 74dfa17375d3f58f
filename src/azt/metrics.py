"""The Prometheus metrics behind `GET /metrics`.

Two halves: counters and histograms fed by every finished request's record (`observe`), and
the account pool's state, read from a snapshot at scrape time (`render`). The pool half is
built fresh on every scrape, so an account removed from the pool disappears from the next one.

Accounts are labelled by their key only: never an email, never a token.

Pure Python and prometheus_client; the addon serving the route does the HTTP part.
"""

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, InfoMetricFamily, Metric

from azt.pool.accounts import Account
from azt.pool.scheduler import unavailable_reason
from azt.pool.usage import Window, parse_window
from azt.records.build import safe_text
from azt.records.record import IMAGE_TOOL, IMAGES_API, RequestRecord
from azt.records.rollup import BUCKET_BOUNDS_MS, DIMENSIONS
from azt.records.sources import LABELS as SOURCE_NAMES
from azt.routes import all_routes

logger = logging.getLogger(__name__)

# The classic text format: every name here is a legacy-valid one, so the body is the same in
# either version, and 0.0.4 is the one every scraper (Prometheus 2 and 3, agents) understands.
CONTENT_TYPE: str = CONTENT_TYPE_PLAIN_0_0_4

# Cardinality guard. Some label values come from clients: the model a client asks for, the path
# of an unmatched route, the source an SDK names. Each distinct value is a new time series, so
# a client sending arbitrary values could grow the scrape (and the Prometheus server) without
# bound. Every such label therefore admits at most MAX_LABEL_VALUES distinct values beyond the
# ones azt itself defines (route names, source names, ...); later newcomers are counted under
# OTHER. Values are also cut to MAX_LABEL_LENGTH characters. The budget lasts for the process:
# a value admitted once keeps its own series, so counters never jump between series.
MAX_LABEL_VALUES = 100
MAX_LABEL_LENGTH = 128
OTHER = "other"
NONE = "none"  # no value: no model, no status (the client went away), no image route

# Seconds. LLM replies take from tens of milliseconds (errors, cached answers) to minutes (long
# reasoning, image work); the stored rollups' bounds are all here, so the two views line up.
DURATION_BUCKETS = (0.025, 0.05, *(bound / 1000 for bound in BUCKET_BOUNDS_MS), 300.0, 600.0)

# An account's state, as `unavailable_reason` names it; OK when it can take work now.
STATE_OK = "ok"
ACCOUNT_STATES = (STATE_OK, "relogin_required", "paused", "cooling_down")
QUOTA_WINDOWS = ("primary", "secondary")

ENDPOINT_NAMES = frozenset(route.name for route in all_routes())


@dataclass(frozen=True)
class PoolSnapshot:
    accounts: Sequence[Account]
    in_flight: Mapping[str, int]  # account key -> requests in flight
    waiting: int  # requests queued for a free account
    now: float  # unix seconds


class BoundedLabel:
    """One label's values, capped: see the cardinality guard above.

    Used on the event loop only, so it needs no lock.
    """

    def __init__(self, known: Iterable[str] = (), limit: int = MAX_LABEL_VALUES) -> None:
        self._known = frozenset(known) | {NONE, OTHER}
        self._admitted: set[str] = set()
        self._limit = limit

    def __call__(self, value: str | None) -> str:
        if value is None:
            return NONE
        # Printable and valid Unicode, whatever it came from: a scrape must always render.
        value = safe_text(value, MAX_LABEL_LENGTH) or NONE
        if value in self._known or value in self._admitted:
            return value
        if len(self._admitted) >= self._limit:
            return OTHER
        self._admitted.add(value)
        return value


class Metrics:
    """The gateway's metrics; `observe` every finished request, `render` on each scrape."""

    def __init__(self) -> None:
        # A registry of its own, never the global default: several gateways may share a process.
        self._registry = CollectorRegistry()
        self._endpoints = BoundedLabel(ENDPOINT_NAMES)
        self._sources = BoundedLabel(SOURCE_NAMES)
        self._models = BoundedLabel()
        self._error_types = BoundedLabel()
        self._image_routes = BoundedLabel((IMAGES_API, IMAGE_TOOL))
        self._failure_logged = False
        self._define_metrics()

    def _define_metrics(self) -> None:
        registry = self._registry
        self._requests = Counter(
            "azt_requests",
            "Finished API requests, by endpoint, client source, HTTP status code and outcome "
            "(failed: an error status, or an error after the status was sent).",
            ["endpoint", "source", "code", "outcome"],
            registry=registry,
        )
        self._errors = Counter(
            "azt_request_errors",
            "Failed API requests by endpoint and error type (http_<status> when none was named).",
            ["endpoint", "error_type"],
            registry=registry,
        )
        self._duration = Histogram(
            "azt_request_duration_seconds",
            "Time from a request's start until its reply ended.",
            ["endpoint"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._ttfb = Histogram(
            "azt_request_time_to_first_byte_seconds",
            "Time from a request's start until the first byte of its reply.",
            ["endpoint"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._tokens = Counter(
            "azt_tokens",
            "Tokens the upstream reported, by model and kind; cached is part of input, "
            "reasoning part of output.",
            ["model", "kind"],
            registry=registry,
        )
        self._requests_without_usage = Counter(
            "azt_requests_without_usage",
            "Finished requests the upstream reported no token usage for (their tokens are "
            "not counted).",
            ["model"],
            registry=registry,
        )
        self._requests_unpriced = Counter(
            "azt_requests_unpriced",
            "Requests with token usage but no known price for their model (not in the cost).",
            ["model"],
            registry=registry,
        )
        self._cost = Counter(
            # Micro-USD keeps the sum exact in integers; divide by 1e6 for dollars.
            "azt_equivalent_api_cost_micro_usd",
            "What the reported tokens would have cost on the OpenAI API, in millionths of a USD.",
            ["model"],
            registry=registry,
        )
        self._failovers = Counter(
            "azt_failovers",
            "Upstream attempts beyond the first: a request moved to another account.",
            ["endpoint"],
            registry=registry,
        )
        self._images = Counter(
            "azt_images",
            "Images generated, by image route (images-api or image-tool).",
            ["image_route"],
            registry=registry,
        )

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request. Cheap, and never raises: metrics must not fail a request."""
        try:
            self._count(record)
        except Exception:
            self._log_failure()

    def render(self, pool: PoolSnapshot) -> bytes:
        """The text exposition of every metric, the pool's as of `pool`."""
        return generate_latest(self._registry) + generate_latest(_Families(pool_families(pool)))

    def _count(self, record: RequestRecord) -> None:
        endpoint = self._endpoints(record.endpoint)
        model = self._models(record.model)
        self._count_request(record, endpoint)
        self._count_timing(record, endpoint)
        self._count_usage(record, model)
        if record.failovers:
            self._failovers.labels(endpoint).inc(record.failovers)
        if record.image_count > 0:
            self._images.labels(self._image_routes(record.image_route)).inc(record.image_count)

    def _count_request(self, record: RequestRecord, endpoint: str) -> None:
        outcome = "ok" if record.ok else "failed"
        source = self._sources(record.source)
        self._requests.labels(endpoint, source, status_code_label(record.status), outcome).inc()
        if not record.ok:
            # The usage views' error key, so /metrics and `azt usage` name errors alike.
            error_type = self._error_types(DIMENSIONS["error"](record))
            self._errors.labels(endpoint, error_type).inc()

    def _count_timing(self, record: RequestRecord, endpoint: str) -> None:
        self._duration.labels(endpoint).observe(max(record.duration_ms, 0.0) / 1000)
        if record.ttfb_ms is not None:
            self._ttfb.labels(endpoint).observe(max(record.ttfb_ms, 0.0) / 1000)

    def _count_usage(self, record: RequestRecord, model: str) -> None:
        usage = record.usage
        if usage is None:
            self._requests_without_usage.labels(model).inc()
            return
        for kind, count in (
            ("input", usage.input),
            ("cached", usage.cached),
            ("output", usage.output),
            ("reasoning", usage.reasoning),
        ):
            self._tokens.labels(model, kind).inc(max(count, 0))
        if record.cost_micro_usd is None:
            self._requests_unpriced.labels(model).inc()
        else:
            self._cost.labels(model).inc(max(record.cost_micro_usd, 0))

    def _log_failure(self) -> None:
        # Once at warning level: a bug here would otherwise log on every request.
        level = logging.DEBUG if self._failure_logged else logging.WARNING
        logger.log(level, "metrics: a request record could not be counted", exc_info=True)
        self._failure_logged = True


def status_code_label(status: int | None) -> str:
    """The status code as a label: bounded by HTTP itself; none when no answer was sent."""
    if status is None:
        return NONE
    return str(status) if 100 <= status <= 599 else OTHER


@dataclass(frozen=True)
class _Families:
    """Ready-made metric families, in the shape `generate_latest` collects from."""

    families: Sequence[Metric]

    def collect(self) -> Sequence[Metric]:
        return self.families


def account_state(account: Account, now: float) -> str:
    """`ok`, or why the account cannot take new work now."""
    return unavailable_reason(account, now) or STATE_OK


def quota_window(account: Account, name: str, now: float) -> Window | None:
    """One quota window as it stands at `now`, or None when no reply has reported it."""
    window = parse_window((account.quota or {}).get(name), account.quota_captured_at)
    return window.current(now) if window is not None else None


def pool_families(pool: PoolSnapshot) -> list[Metric]:
    """The pool's metric families as of the snapshot."""
    accounts = _AccountFamilies()
    seen: set[str] = set()
    for account in pool.accounts:
        if account.key not in seen:  # a duplicate series would make the whole scrape fail
            seen.add(account.key)
            accounts.add(account, pool)
    return [*accounts.families(), *_pool_gauges(pool, len(seen))]


def _pool_gauges(pool: PoolSnapshot, account_count: int) -> list[Metric]:
    return [
        GaugeMetricFamily("azt_pool_accounts", "Accounts in the pool.", value=account_count),
        GaugeMetricFamily(
            "azt_pool_waiting_requests",
            "Requests queued for a free account slot.",
            value=pool.waiting,
        ),
        GaugeMetricFamily(
            "azt_pool_in_flight_requests",
            "Requests in flight on all accounts, removed ones included.",
            value=sum(pool.in_flight.values()),
        ),
    ]


class _AccountFamilies:
    """The per-account families of one scrape, labelled by account key only."""

    def __init__(self) -> None:
        account = ["account"]
        windowed = ["account", "window"]
        self.info = InfoMetricFamily("azt_account", "Pooled account details.", labels=account)
        self.usable = GaugeMetricFamily(
            "azt_account_usable", "1 when the account can take new work now.", labels=account
        )
        self.state = GaugeMetricFamily(
            "azt_account_state",
            "The account's state, one series per state: 1 for the current one.",
            labels=["account", "state"],
        )
        self.in_flight = GaugeMetricFamily(
            "azt_account_in_flight_requests", "Requests in flight on the account.", labels=account
        )
        self.cooldown = GaugeMetricFamily(
            "azt_account_cooldown_remaining_seconds",
            "Seconds until the account's cooldown ends (0 when not cooling down).",
            labels=account,
        )
        self.quota_used = GaugeMetricFamily(
            "azt_account_quota_used_percent",
            "Percent of the quota window used, as last reported (0 after the window reset).",
            labels=windowed,
        )
        self.quota_reset = GaugeMetricFamily(
            "azt_account_quota_reset_timestamp_seconds",
            "When the quota window resets, in unix seconds.",
            labels=windowed,
        )
        self.quota_length = GaugeMetricFamily(
            "azt_account_quota_window_seconds",
            "Length of the quota window (the primary one is weekly on free plans).",
            labels=windowed,
        )

    def families(self) -> list[Metric]:
        return [
            self.info,
            self.usable,
            self.state,
            self.in_flight,
            self.cooldown,
            self.quota_used,
            self.quota_reset,
            self.quota_length,
        ]

    def add(self, account: Account, pool: PoolSnapshot) -> None:
        key = account.key
        self.info.add_metric([key], {"plan": account.plan or "unknown"})
        self._add_state(key, account_state(account, pool.now))
        self.in_flight.add_metric([key], pool.in_flight.get(key, 0))
        remaining = (account.cooldown_until or 0.0) - pool.now
        self.cooldown.add_metric([key], max(remaining, 0.0))
        for name in QUOTA_WINDOWS:
            window = quota_window(account, name, pool.now)
            if window is not None:
                self._add_window(key, name, window)

    def _add_state(self, key: str, current: str) -> None:
        self.usable.add_metric([key], 1.0 if current == STATE_OK else 0.0)
        # A reason unavailable_reason may learn later still shows, as a state of its own.
        states = ACCOUNT_STATES if current in ACCOUNT_STATES else (*ACCOUNT_STATES, current)
        for state in states:
            self.state.add_metric([key, state], 1.0 if state == current else 0.0)

    def _add_window(self, key: str, name: str, window: Window) -> None:
        self.quota_used.add_metric([key, name], window.used_percent)
        if window.reset_at is not None:
            self.quota_reset.add_metric([key, name], window.reset_at)
        if window.minutes > 0:
            self.quota_length.add_metric([key, name], window.minutes * 60)
