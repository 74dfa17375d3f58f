"""The /metrics model: counters from request records, pool state from a snapshot."""

from dataclasses import replace
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from azt.dialects.common.usage import TokenUsage
from azt.metrics import (
    CONTENT_TYPE,
    MAX_LABEL_LENGTH,
    MAX_LABEL_VALUES,
    OTHER,
    BoundedLabel,
    Metrics,
    PoolSnapshot,
)
from azt.pool.accounts import Account, AccountStatus
from azt.records.record import IMAGES_API, RequestRecord
from support.accounts import make_account
from support.records import make_record as shared_record

NOW = 1_800_000_000.0

Labels = frozenset[tuple[str, str]]
Samples = dict[str, dict[Labels, float]]


def make_record(**changes: Any) -> RequestRecord:
    """A successful streamed chat request on account a/-; any field can be overridden."""
    values: dict[str, Any] = {
        "started_at": NOW,
        "source": "openai-sdk-python",
        "source_version": "1.60.0",
        "dialect": "openai",
        "stream": True,
        "account": "a/-",
        "duration_ms": 1500.0,
        "ttfb_ms": 200.0,
        "usage": TokenUsage(input=1000, cached=400, output=300, reasoning=120, total=1300),
        "cost_micro_usd": 2500,
    }
    return shared_record(**(values | changes))


def secret_account(key: str, **changes: Any) -> Account:
    """An account whose email and tokens are distinctive, so a leak would be found."""
    tag = key.split("/")[0]
    return make_account(
        key,
        email=f"{tag}.person@mail.test",
        id_token=f"idtok-{tag}-SECRET",
        access_token=f"acctok-{tag}-SECRET",
        refresh_token=f"reftok-{tag}-SECRET",
        **changes,
    )


def pool_accounts() -> list[Account]:
    quota = {
        "primary": {"used_percent": 42.5, "window_minutes": 300, "reset_at": int(NOW) + 600},
        "secondary": {"used_percent": 10.0, "window_minutes": 10_080, "reset_at": int(NOW) - 1},
    }
    return [
        secret_account("ready/-", quota=quota, quota_captured_at=int(NOW) - 60),
        secret_account("paused/-", paused=True),
        secret_account("cooling/-", cooldown_until=NOW + 90.0, plan="pro"),
        secret_account("relogin/-", status=AccountStatus.RELOGIN_REQUIRED, plan=None),
    ]


def snapshot(accounts: list[Account], **changes: Any) -> PoolSnapshot:
    base = PoolSnapshot(accounts=accounts, in_flight={"ready/-": 2}, waiting=3, now=NOW)
    return replace(base, **changes)


def parse(body: bytes) -> Samples:
    """Every sample of the exposition: sample name -> labels -> value."""
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[name][frozenset(labels.items())]


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for labels in samples.get(name, {})}


@pytest.fixture
def observed() -> Metrics:
    metrics = Metrics()
    metrics.observe(make_record(attempts=2))
    metrics.observe(
        make_record(
            id="flow-2",
            status=429,
            error_type="usage_limit_reached",
            duration_ms=40.0,
            ttfb_ms=None,
            usage=None,
            cost_micro_usd=None,
        )
    )
    metrics.observe(
        make_record(
            id="flow-3",
            source="codex-cli",
            endpoint="codex.responses",
            model_requested="gpt-5.3-codex",
            model_served=None,
            duration_ms=95_000.0,
            ttfb_ms=30.0,
            usage=None,
            cost_micro_usd=None,
        )
    )
    metrics.observe(
        make_record(
            id="flow-4",
            endpoint="images.generations",
            stream=False,
            model_served="gpt-image-1",
            duration_ms=20_000.0,
            image_count=2,
            image_route=IMAGES_API,
            usage=TokenUsage(input=50, output=4000, total=4050),
            cost_micro_usd=None,
        )
    )
    return metrics


def test_content_type_is_the_prometheus_text_format() -> None:
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_requests_are_counted_by_endpoint_source_code_and_outcome(observed: Metrics) -> None:
    samples = parse(observed.render(snapshot([])))
    chat = {"endpoint": "chat.completions", "source": "openai-sdk-python"}
    assert value(samples, "azt_requests_total", **chat, code="200", outcome="ok") == 1
    assert value(samples, "azt_requests_total", **chat, code="429", outcome="failed") == 1
    assert (
        value(
            samples,
            "azt_requests_total",
            endpoint="codex.responses",
            source="codex-cli",
            code="200",
            outcome="ok",
        )
        == 1
    )
    assert sum(samples["azt_requests_total"].values()) == 4


def test_failures_are_counted_by_error_type(observed: Metrics) -> None:
    samples = parse(observed.render(snapshot([])))
    assert samples["azt_request_errors_total"] == {
        frozenset({("endpoint", "chat.completions"), ("error_type", "usage_limit_reached")}): 1
    }


def test_an_error_after_a_200_is_a_failure_and_a_missing_status_is_none() -> None:
    metrics = Metrics()
    metrics.observe(make_record(error_type="stream_interrupted"))
    metrics.observe(make_record(status=None))
    samples = parse(metrics.render(snapshot([])))
    chat = {"endpoint": "chat.completions", "source": "openai-sdk-python"}
    assert value(samples, "azt_requests_total", **chat, code="200", outcome="failed") == 1
    assert value(samples, "azt_requests_total", **chat, code="none", outcome="failed") == 1
    errors = samples["azt_request_errors_total"]
    assert errors[frozenset({("endpoint", "chat.completions"), ("error_type", "http_none")})] == 1


def test_durations_and_ttfb_fill_histograms_in_seconds(observed: Metrics) -> None:
    samples = parse(observed.render(snapshot([])))
    chat = {"endpoint": "chat.completions"}
    assert value(samples, "azt_request_duration_seconds_count", **chat) == 2
    assert value(samples, "azt_request_duration_seconds_sum", **chat) == pytest.approx(1.54)
    assert value(samples, "azt_request_duration_seconds_bucket", **chat, le="0.05") == 1
    assert value(samples, "azt_request_duration_seconds_bucket", **chat, le="2.0") == 2
    codex = {"endpoint": "codex.responses"}
    assert value(samples, "azt_request_duration_seconds_bucket", **codex, le="60.0") == 0
    assert value(samples, "azt_request_duration_seconds_bucket", **codex, le="120.0") == 1
    # The 429 had no first byte: only the success counts towards time to first byte.
    assert value(samples, "azt_request_time_to_first_byte_seconds_count", **chat) == 1
    assert value(samples, "azt_request_time_to_first_byte_seconds_sum", **chat) == 0.2
    assert value(samples, "azt_request_time_to_first_byte_seconds_bucket", **codex, le="0.05") == 1


def test_tokens_cost_and_missing_usage_are_counted_by_model(observed: Metrics) -> None:
    samples = parse(observed.render(snapshot([])))
    tokens = "azt_tokens_total"
    assert value(samples, tokens, model="gpt-5.4", kind="input") == 1000
    assert value(samples, tokens, model="gpt-5.4", kind="cached") == 400
    assert value(samples, tokens, model="gpt-5.4", kind="output") == 300
    assert value(samples, tokens, model="gpt-5.4", kind="reasoning") == 120
    assert value(samples, tokens, model="gpt-image-1", kind="output") == 4000
    assert value(samples, "azt_equivalent_api_cost_micro_usd_total", model="gpt-5.4") == 2500
    assert label_values(samples, "azt_equivalent_api_cost_micro_usd_total", "model") == {"gpt-5.4"}
    assert value(samples, "azt_requests_unpriced_total", model="gpt-image-1") == 1
    # Counted under the model asked for when none served it.
    without = "azt_requests_without_usage_total"
    assert value(samples, without, model="gpt-5.4") == 1
    assert value(samples, without, model="gpt-5.3-codex") == 1
    assert label_values(samples, tokens, "model") == {"gpt-5.4", "gpt-image-1"}


def test_failovers_and_images_are_counted(observed: Metrics) -> None:
    samples = parse(observed.render(snapshot([])))
    assert samples["azt_failovers_total"] == {frozenset({("endpoint", "chat.completions")}): 1}
    assert samples["azt_images_total"] == {frozenset({("image_route", IMAGES_API)}): 2}


def test_account_state_is_rendered_per_account() -> None:
    samples = parse(Metrics().render(snapshot(pool_accounts())))
    usable = {dict(labels)["account"]: v for labels, v in samples["azt_account_usable"].items()}
    assert usable == {"ready/-": 1, "paused/-": 0, "cooling/-": 0, "relogin/-": 0}
    current = {
        dict(labels)["account"]: dict(labels)["state"]
        for labels, v in samples["azt_account_state"].items()
        if v == 1
    }
    assert current == {
        "ready/-": "ok",
        "paused/-": "paused",
        "cooling/-": "cooling_down",
        "relogin/-": "relogin_required",
    }
    assert len(samples["azt_account_state"]) == 4 * 4  # every state, for every account
    assert value(samples, "azt_account_info", account="cooling/-", plan="pro") == 1
    assert value(samples, "azt_account_info", account="relogin/-", plan="unknown") == 1
    assert value(samples, "azt_account_in_flight_requests", account="ready/-") == 2
    assert value(samples, "azt_account_in_flight_requests", account="paused/-") == 0
    assert value(samples, "azt_account_cooldown_remaining_seconds", account="cooling/-") == 90
    assert value(samples, "azt_account_cooldown_remaining_seconds", account="ready/-") == 0


def test_quota_windows_are_rendered_when_known() -> None:
    samples = parse(Metrics().render(snapshot(pool_accounts())))
    used = "azt_account_quota_used_percent"
    assert value(samples, used, account="ready/-", window="primary") == 42.5
    # Past its reset a window starts again, unused.
    assert value(samples, used, account="ready/-", window="secondary") == 0
    assert label_values(samples, used, "account") == {"ready/-"}
    reset = "azt_account_quota_reset_timestamp_seconds"
    assert value(samples, reset, account="ready/-", window="primary") == NOW + 600
    assert value(samples, reset, account="ready/-", window="secondary") == NOW - 1 + 7 * 86_400
    length = "azt_account_quota_window_seconds"
    assert value(samples, length, account="ready/-", window="primary") == 5 * 3600


def test_pool_gauges() -> None:
    accounts = pool_accounts()
    samples = parse(Metrics().render(snapshot(accounts, in_flight={"ready/-": 2, "gone/-": 1})))
    assert value(samples, "azt_pool_accounts") == 4
    assert value(samples, "azt_pool_waiting_requests") == 3
    assert value(samples, "azt_pool_in_flight_requests") == 3


def test_a_removed_account_disappears_from_the_next_render() -> None:
    metrics = Metrics()
    accounts = pool_accounts()
    before = parse(metrics.render(snapshot(accounts)))
    assert "paused/-" in label_values(before, "azt_account_usable", "account")
    after = parse(metrics.render(snapshot([a for a in accounts if a.key != "paused/-"])))
    for name, series in after.items():
        if name.startswith("azt_account"):
            assert "paused/-" not in {dict(labels)["account"] for labels in series}, name
    assert value(after, "azt_pool_accounts") == 3


def test_duplicate_account_keys_render_once() -> None:
    account = secret_account("ready/-")
    body = Metrics().render(snapshot([account, account]))
    samples = parse(body)  # the parser would accept duplicates; Prometheus would not
    assert body.decode().count('azt_account_usable{account="ready/-"}') == 1
    assert value(samples, "azt_pool_accounts") == 1


def test_no_email_or_token_appears_in_the_output(observed: Metrics) -> None:
    accounts = pool_accounts()
    text = observed.render(snapshot(accounts)).decode()
    for account in accounts:
        for secret in (
            account.email,
            account.id_token,
            account.access_token,
            account.refresh_token,
        ):
            assert secret and secret not in text
    assert "@" not in text


def test_client_supplied_models_are_capped() -> None:
    metrics = Metrics()
    extra = 30
    for n in range(MAX_LABEL_VALUES + extra):
        metrics.observe(make_record(model_served=None, model_requested=f"model-{n}"))
    metrics.observe(make_record(model_served=None, model_requested="model-0"))
    samples = parse(metrics.render(snapshot([])))
    models = label_values(samples, "azt_tokens_total", "model")
    assert len(models) == MAX_LABEL_VALUES + 1
    assert OTHER in models and "model-0" in models and f"model-{MAX_LABEL_VALUES}" not in models
    assert value(samples, "azt_tokens_total", model=OTHER, kind="input") == extra * 1000
    # A value admitted before the cap keeps its own series.
    assert value(samples, "azt_tokens_total", model="model-0", kind="input") == 2 * 1000


def test_unmatched_paths_are_capped_but_route_names_always_pass() -> None:
    metrics = Metrics()
    for n in range(MAX_LABEL_VALUES + 5):
        metrics.observe(make_record(endpoint=f"/probe/{n}", status=404, error_type="not_found"))
    metrics.observe(make_record(endpoint="responses.create"))
    samples = parse(metrics.render(snapshot([])))
    endpoints = label_values(samples, "azt_request_duration_seconds_count", "endpoint")
    assert "responses.create" in endpoints and OTHER in endpoints
    assert len(endpoints) == MAX_LABEL_VALUES + 2
    assert value(samples, "azt_request_duration_seconds_count", endpoint=OTHER) == 5


def test_bounded_label_cuts_long_values_and_names_missing_ones() -> None:
    label = BoundedLabel(known={"known"}, limit=1)
    assert label("x" * 1000) == "x" * MAX_LABEL_LENGTH
    assert label("second") == OTHER
    assert label("known") == "known"
    assert label(None) == "none"


def test_observe_never_raises() -> None:
    metrics = Metrics()
    metrics.observe(cast(RequestRecord, object()))
    metrics.observe(make_record(endpoint=cast(str, None), duration_ms=cast(float, "slow")))
    metrics.observe(make_record())
    samples = parse(metrics.render(snapshot([])))
    chat = {"endpoint": "chat.completions", "source": "openai-sdk-python"}
    assert value(samples, "azt_requests_total", **chat, code="200", outcome="ok") == 1


def test_each_gateway_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.observe(make_record())
    assert "azt_requests_total" in parse(first.render(snapshot([])))
    assert "azt_requests_total" not in parse(second.render(snapshot([])))
    assert not any(m.name.startswith("azt_") for m in REGISTRY.collect())


def test_label_values_from_clients_can_never_break_a_scrape() -> None:
    """A lone surrogate or control character in a label value is replaced, never rendered raw."""
    from azt.metrics import BoundedLabel

    label = BoundedLabel()
    assert label("bad\ud800\r\nname") == "bad\ufffd\ufffd\ufffdname"
    metrics = Metrics()
    metrics.observe(
        make_record(model_requested="m\ud800", model_served=None, error_type="e\udfff", status=400)
    )
    text = metrics.render(snapshot([]))
    text.decode("utf-8")
    assert "m\ufffd".encode() in text and "e\ufffd".encode() in text
