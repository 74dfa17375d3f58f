"""Rewrite a flow onto the local account pool.

The client's credentials never travel further: they are dropped here, and the pool adds the
chosen account's. The pool's reply is streamed through as is, so it must arrive uncompressed.
"""

from mitmproxy import http

from azt.addons.flowstate import ROUTED
from azt.pool.server import SECRET_HEADER

# Request headers that must not reach the pool (credentials, encodings already undone).
_DROPPED_HEADERS = (
    "authorization",
    "chatgpt-account-id",
    "cookie",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "content-encoding",
    "content-length",
)


def _query(path: str) -> str:
    _, sep, query = path.partition("?")
    return sep + query


def hand_to_pool(flow: http.HTTPFlow, pool_path: str, pool_port: int, secret: str) -> None:
    request = flow.request
    for name in _DROPPED_HEADERS:
        request.headers.pop(name, None)
    if request.raw_content:
        request.headers["content-length"] = str(len(request.raw_content))
    request.scheme = "http"
    request.host = "127.0.0.1"
    request.port = pool_port
    request.path = pool_path + _query(request.path)
    request.headers[SECRET_HEADER] = secret
    request.headers["accept-encoding"] = "identity"
    flow.metadata[ROUTED] = True
