"""A text error from the pool's HTTP server reaches the client in OpenAI shape."""

import json

from mitmproxy.test import taddons, tutils

from azt.addons.flowstate import exchange_of
from azt.addons.poolerrors import PoolErrors


def reply(make_flow, status: int, body: bytes, content_type: bytes, handed_over: bool = True):
    flow = make_flow()
    exchange_of(flow).handed_over = handed_over
    flow.response = tutils.tresp(
        status_code=status, content=body, headers=[(b"content-type", content_type)]
    )
    with taddons.context(PoolErrors()) as tctx:
        tctx.master.addons.get("poolerrors").response(flow)
    return flow.response


def test_text_errors_are_restated(make_flow) -> None:
    refused = reply(make_flow, 400, b"Invalid HTTP request received.", b"text/plain")
    body = json.loads(refused.content)
    assert (refused.status_code, body["error"]["code"]) == (400, "invalid_http")
    assert "Invalid HTTP request received." in body["error"]["message"]
    failed = reply(make_flow, 500, b"Internal Server Error", b"text/plain")
    assert failed.status_code == 502 and json.loads(failed.content)["error"]["code"] == (
        "gateway_error"
    )


def test_json_errors_successes_and_answers_not_from_the_pool_are_left_alone(make_flow) -> None:
    error = b'{"error": {"code": "x"}}'
    assert reply(make_flow, 429, error, b"application/json").content == error
    assert reply(make_flow, 200, b"ok", b"text/plain").content == b"ok"
    assert reply(make_flow, 404, b"nope", b"text/plain", handed_over=False).content == b"nope"
