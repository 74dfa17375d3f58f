"""Rewrite a flow onto the local account pool.

The flow goes to the pool with two headers only: the pool's secret and its exchange's id; the
pool finds everything else on the `Exchange`. The client's credentials never travel further:
they are dropped here, and the pool adds the chosen account's. The pool's reply is streamed
through as is, so it must arrive uncompressed.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mitmproxy import http

from azt.dialects.common.params import IGNORED_HEADER, ignored_header
from azt.exchange import Exchange, Exchanges
from azt.pool.hop import EXCHANGE_HEADER, SECRET_HEADER

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
    "transfer-encoding",  # the body was read whole: it goes on with a content-length
)

# No header of azt's own may come from a client (the pool reads only the two set below).
_INTERNAL_PREFIX = "x-azt-"

# Conversation ids clients send as headers; the first found keeps a conversation on one account.
_SESSION_HEADERS = ("session-id", "session_id", "conversation_id", "thread-id", "thread_id")


def affinity_key(body: Mapping[str, Any] | None, headers: http.Headers) -> str | None:
    """What ties requests of one conversation together: the prompt cache key or session id.

    Keeping them on one account keeps the upstream prompt cache warm.
    """
    key = (body or {}).get("prompt_cache_key")
    if isinstance(key, str) and key:
        return key
    return next((headers[name] for name in _SESSION_HEADERS if headers.get(name)), None)


def public_base(flow: http.HTTPFlow, exchange: Exchange) -> str:
    """Where the client reached azt, for links it can follow back (image URLs).

    The reverse listener has already pointed the Host header at the pool, so the address is
    the listener's own; an intercepted request names the OpenAI host it was for.
    """
    if exchange.intercepted_host:
        return f"https://{exchange.intercepted_host}"
    host, port = flow.client_conn.sockname[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def announce_ignored(response: http.Response, exchange: Exchange) -> None:
    """Name the parameters azt dropped, for the client (`x-azt-ignored-params`)."""
    if exchange.ignored:
        response.headers[IGNORED_HEADER] = ignored_header(exchange.ignored)


def _query(request: http.Request) -> str:
    """The client's query, re-encoded: the pool's server refuses characters mitmproxy lets by."""
    if "?" not in request.path:
        return ""
    return "?" + urlencode(request.query.items(multi=True))


@dataclass(frozen=True)
class PoolLink:
    """How the addons reach the pool: its port, its secret, and where it finds exchanges."""

    port: int
    secret: str
    exchanges: Exchanges

    def hand_over(self, flow: http.HTTPFlow, exchange: Exchange, pool_path: str) -> None:
        """Send the flow to the pool at `pool_path` (the client's query string is kept)."""
        request = flow.request
        for name in list(request.headers.keys()):
            if name.lower() in _DROPPED_HEADERS or name.lower().startswith(_INTERNAL_PREFIX):
                request.headers.pop(name, None)
        exchange.public_base = public_base(flow, exchange)
        self.exchanges.register(exchange)
        if request.raw_content:
            request.headers["content-length"] = str(len(request.raw_content))
        request.trailers = None  # they ended a chunked body, which goes on whole
        for name in list(request.headers.keys()):
            values = request.headers.get_all(name)
            if any("\r" in value or "\n" in value for value in values):
                # An obsolete folded header (RFC 9112 §5.2): one line each, as the RFC allows.
                request.headers.set_all(name, [" ".join(value.split()) for value in values])
        request.scheme = "http"
        request.host = "127.0.0.1"
        request.port = self.port
        request.path = pool_path + _query(request)
        request.headers[SECRET_HEADER] = self.secret
        request.headers[EXCHANGE_HEADER] = exchange.id
        request.headers["accept-encoding"] = "identity"
        exchange.handed_over = True
