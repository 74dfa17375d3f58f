import logging

from mitmproxy.test import taddons, tutils

from azt.addons.flowstate import ACCOUNT, ROUTE, ROUTED
from azt.addons.ledger import Ledger
from azt.pool.server import ACCOUNT_HEADER, ATTEMPTS_HEADER
from azt.routes import resolve


def test_strips_routing_headers_streams_sse_and_logs_safely(caplog, make_flow) -> None:
    ledger = Ledger()
    with taddons.context(ledger):
        flow = make_flow(headers={"authorization": "Bearer sk-secret"})
        flow.metadata[ROUTE] = resolve("POST", "/codex/v1/responses")
        flow.metadata[ROUTED] = True
        flow.response = tutils.tresp(
            headers=[
                (b"content-type", b"text/event-stream"),
                (ACCOUNT_HEADER.encode(), b"acct/user"),
                (ATTEMPTS_HEADER.encode(), b"2"),
            ]
        )
        ledger.responseheaders(flow)
        assert ACCOUNT_HEADER not in flow.response.headers
        assert ATTEMPTS_HEADER not in flow.response.headers
        assert flow.response.stream is True
        assert flow.metadata[ACCOUNT] == "acct/user"
        with caplog.at_level(logging.INFO, logger="azt.requests"):
            ledger.response(flow)
    line = caplog.records[-1].getMessage()
    assert "codex.responses" in line and "account=acct/user" in line and "attempts=2" in line
    assert "sk-secret" not in line and "hi" not in line.split("account")[0]


def test_json_replies_are_not_streamed(make_flow) -> None:
    ledger = Ledger()
    with taddons.context(ledger):
        flow = make_flow()
        flow.response = tutils.tresp(headers=[(b"content-type", b"application/json")])
        ledger.responseheaders(flow)
        assert not flow.response.stream


def test_unmatched_requests_are_logged_by_path_without_query(caplog, make_flow) -> None:
    ledger = Ledger()
    with taddons.context(ledger):
        flow = make_flow(method="GET", path="/nope?key=sk-secret")
        flow.response = tutils.tresp(status_code=404)
        with caplog.at_level(logging.INFO, logger="azt.requests"):
            ledger.response(flow)
    line = caplog.records[-1].getMessage()
    assert "GET /nope status=404" in line and "sk-secret" not in line
