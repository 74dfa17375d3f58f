import logging

from mitmproxy.test import taddons, tutils

from azt.addons.flowstate import exchange_of
from azt.addons.ledger import Ledger
from azt.dialects.common.translation import Translation
from azt.records.recorder import Recorder
from azt.routes import resolve


def test_streams_sse_and_logs_what_the_exchange_says_safely(caplog, make_flow) -> None:
    ledger = Ledger()
    with taddons.context(ledger):
        flow = make_flow(headers={"authorization": "Bearer sk-secret"})
        exchange = exchange_of(flow)
        exchange.route = resolve("POST", "/codex/v1/responses")
        exchange.handed_over = True
        exchange.note_attempt()
        exchange.note_attempt()
        exchange.note_served_by("acct/user")  # as the pool reports it
        flow.response = tutils.tresp(headers=[(b"content-type", b"text/event-stream")])
        ledger.responseheaders(flow)
        assert flow.response.stream is True
        assert exchange.first_byte is not None
        with caplog.at_level(logging.INFO, logger="azt.requests"):
            ledger.response(flow)
    line = caplog.records[-1].getMessage()
    assert "codex.responses" in line and "account=acct/user" in line and "attempts=2" in line
    assert "sk-secret" not in line and "hi" not in line.split("account")[0]
    assert (exchange.status, exchange.streamed, exchange.error) == (200, True, None)


def test_json_replies_are_buffered_unless_large(make_flow) -> None:
    """Error bodies are read for their code; a large or unsized reply is streamed instead."""
    ledger = Ledger()
    with taddons.context(ledger):
        for length, streamed in ((b"512", False), (b"5000000", True), (None, True)):
            flow = make_flow()
            headers = [(b"content-type", b"application/json")]
            if length is not None:
                headers.append((b"content-length", length))
            flow.response = tutils.tresp(headers=headers)
            ledger.responseheaders(flow)
            assert bool(flow.response.stream) is streamed, length


def test_a_large_collapsed_reply_is_streamed_but_a_translated_stream_is_left_alone(
    make_flow,
) -> None:
    """The pool sends a non-streaming client's collapsed reply as JSON, which may be larger
    than mitmproxy's body limit; a streaming client's reply is the translator's to stream."""
    ledger = Ledger()
    with taddons.context(ledger):
        for stream, content_type, streamed in (
            (False, b"application/json", True),
            (True, b"text/event-stream", False),
        ):
            flow = make_flow()
            exchange_of(flow).translation = Translation({}, None, stream=stream)  # type: ignore[arg-type]
            flow.response = tutils.tresp(headers=[(b"content-type", content_type)])
            ledger.responseheaders(flow)
            assert bool(flow.response.stream) is streamed, stream


def test_unmatched_requests_are_logged_by_path_without_query(caplog, make_flow) -> None:
    ledger = Ledger()
    with taddons.context(ledger):
        flow = make_flow(method="GET", path="/nope?key=sk-secret")
        flow.response = tutils.tresp(status_code=404)
        with caplog.at_level(logging.INFO, logger="azt.requests"):
            ledger.response(flow)
    line = caplog.records[-1].getMessage()
    assert "GET /nope status=404" in line and "sk-secret" not in line


def test_a_flow_is_recorded_once_and_passthroughs_never(make_flow, tmp_path) -> None:
    """A flow's record is built once, from its exchange; flows that are not azt's have none."""
    from azt.config import Settings

    recorder = Recorder(Settings(), tmp_path / "azt.db")
    seen = []
    recorder.observe(seen.append)
    ledger = Ledger(recorder)
    with taddons.context(ledger):
        recorder.start()
        flow = make_flow(method="GET", path="/v1/models", body=b"")
        exchange_of(flow).route = resolve("GET", "/v1/models")
        flow.response = tutils.tresp(status_code=200)
        ledger.response(flow)
        ledger.error(flow)
        passthrough = make_flow(taken=False)
        passthrough.response = tutils.tresp(status_code=200)
        ledger.response(passthrough)
    recorder.close()
    assert [record.id for record in seen] == [flow.id]
    assert seen[0].endpoint == "models.list" and seen[0].dialect == "models"
