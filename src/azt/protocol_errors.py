"""The answer to a request that is not valid HTTP/1: JSON, like every other error azt gives.

mitmproxy answers framing errors (duplicate or negative Content-Length, Content-Length with
Transfer-Encoding, bad header names, a garbled request line) itself, before any addon sees a
flow, with an HTML page that names mitmproxy. It builds that answer in one module-level
function of its HTTP/1 layer; `install` replaces it with one that answers in OpenAI shape.
HTTP/2 and HTTP/3 streams are answered by mitmproxy as before (only TLS clients of the proxy
listener speak them).
"""

import json

from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy.layers.http import _http1

from azt.errors import ApiError

# The code for each status mitmproxy answers framing and connection errors with.
_CODES = {400: "invalid_http", 413: "request_too_large", 502: "gateway_error"}


# mitmproxy refuses a body whose declared length passes its limit before any addon runs.
_TOO_LARGE = (
    "The request body is larger than azt accepts (the `body_limit_mb` and "
    "`compact_body_limit_mb` settings; the proxy listener relays no larger body to other "
    "hosts either)."
)


def error_reply(status_code: int, message: str = "") -> bytes:
    """A whole HTTP/1.1 response carrying an OpenAI-shaped error, then closing."""
    status = status_code
    reason = message.strip().rstrip(".") or "the request could not be read"
    if status == 413:
        text = _TOO_LARGE
    elif status < 500:
        text = f"The request is not valid HTTP: {reason}."
    else:
        text = f"{reason}."
    error = ApiError(status, text, code=_CODES.get(status, "http_error"))
    body = json.dumps(error.body()).encode()
    response = http.Response.make(
        status, body, {"content-type": "application/json", "connection": "close"}
    )
    assembled: bytes = http1.assemble_response(response)
    return assembled


def install() -> None:
    """Answer HTTP/1 framing errors with `error_reply` (idempotent)."""
    _http1.make_error_response = error_reply
