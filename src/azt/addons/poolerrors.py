"""Restate in OpenAI shape an error the pool's HTTP server gives in text.

The pool answers in JSON; its server (uvicorn) answers a few requests it cannot read itself,
in plain text ("Invalid HTTP request received."). mitmproxy may accept a request uvicorn
refuses, so such an answer is turned into the client's error shape here, never passed on raw.
"""

from mitmproxy import http

from azt.addons.flowstate import exchange_of
from azt.errors import ApiError

_TEXT_LIMIT = 200


class PoolErrors:
    def response(self, flow: http.HTTPFlow) -> None:
        exchange = exchange_of(flow)
        response = flow.response
        if exchange is None or not exchange.handed_over or response is None:
            return
        content_type = response.headers.get("content-type", "")
        if response.status_code < 400 or "json" in content_type or response.stream:
            return
        said = (response.get_text(strict=False) or "").strip()[:_TEXT_LIMIT]
        if response.status_code < 500:
            error = ApiError(
                response.status_code,
                f"The request could not be read: {said or 'refused'}",
                code="invalid_http",
            )
        else:
            error = ApiError(
                502, f"azt's account pool failed: {said or 'no reply'}", code="gateway_error"
            )
        response.status_code = error.status
        response.headers["content-type"] = "application/json"
        response.content = error.body_bytes()
