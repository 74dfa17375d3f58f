"""The per-request context and the registry the pool finds it in."""

import gc

from azt.dialects.common.usage import TokenUsage
from azt.exchange import Client, Exchange, Exchanges
from azt.records.build import build_record
from azt.routes import resolve


def make(exchange_id: str = "x") -> Exchange:
    return Exchange(id=exchange_id, client=Client("127.0.0.1"), method="POST", path="/v1/x")


def test_the_registry_finds_registered_exchanges_by_id() -> None:
    exchanges = Exchanges()
    exchange = make("a")
    exchanges.register(exchange)
    assert exchanges.find("a") is exchange
    assert exchanges.find("b") is None
    assert exchanges.find(None) is None and exchanges.find("") is None


def test_an_exchange_leaves_the_registry_with_its_request() -> None:
    """Nothing needs to remove entries: one whose request is gone cannot be found or leak."""
    exchanges = Exchanges()
    exchange = make("gone")
    exchanges.register(exchange)
    del exchange
    gc.collect()
    assert exchanges.find("gone") is None and len(exchanges) == 0


def test_usage_adds_up_across_the_parts_the_pool_served() -> None:
    exchange = make()
    exchange.add_usage(None)
    assert exchange.usage is None
    exchange.add_usage(TokenUsage(input=3, output=2, total=5))
    exchange.add_usage(TokenUsage(input=1, output=1, total=2))
    exchange.add_image_usage(TokenUsage(input=4, total=4))
    assert exchange.usage == TokenUsage(input=4, output=3, total=7)
    assert exchange.image_usage == TokenUsage(input=4, total=4)


def test_the_record_is_built_from_the_exchange_alone() -> None:
    exchange = make()
    exchange.route = resolve("POST", "/v1/chat/completions")
    exchange.body = {"model": "gpt-5.4", "messages": []}
    exchange.model_requested, exchange.model_known = "gpt-5.4", True
    exchange.note_attempt()
    exchange.note_attempt()
    exchange.note_served_by("acct/2")
    exchange.model_served = "gpt-5.4-2026"
    exchange.add_usage(TokenUsage(input=10, output=5, total=15))
    exchange.first_byte = exchange.started + 0.25
    exchange.ended = exchange.started + 1.0
    exchange.status, exchange.streamed = 200, True
    record = build_record(exchange)
    assert (record.id, record.endpoint, record.dialect) == ("x", "chat.completions", "chat")
    assert (record.account, record.attempts, record.failovers) == ("acct/2", 2, 1)
    assert (record.model_requested, record.model_served) == ("gpt-5.4", "gpt-5.4-2026")
    assert (record.duration_ms, record.ttfb_ms) == (1000.0, 250.0)
    assert record.usage == TokenUsage(input=10, output=5, total=15) and record.ok
    assert record.cost_micro_usd is None  # no price table given


def test_an_unmatched_request_is_recorded_without_its_path() -> None:
    exchange = make()
    exchange.status, exchange.error = 404, "unknown_route"
    record = build_record(exchange)
    assert (record.endpoint, record.dialect, record.ok) == ("unmatched", "unmatched", False)


def test_text_from_clients_is_recorded_bounded_and_printable() -> None:
    """An unknown model is `unknown`; versions and errors are cut and made printable."""
    from azt.records.sources import Source

    exchange = make()
    exchange.route = resolve("POST", "/v1/chat/completions")
    exchange.model_requested = "junk-model-\ud800\r\n"  # not resolved: never recorded as such
    exchange.source = Source("curl", "7.0\x00\ud800" + "9" * 100)
    exchange.error = "model_not_found\n" + "x" * 200
    record = build_record(exchange)
    assert record.model_requested == "unknown" and record.model == "unknown"
    assert record.source_version == "7.0\ufffd\ufffd" + "9" * 27
    assert record.error_type is not None and len(record.error_type) == 64
    assert "\n" not in record.error_type
    for text in (record.model_requested, record.source_version, record.error_type):
        text.encode("utf-8")  # always writable
