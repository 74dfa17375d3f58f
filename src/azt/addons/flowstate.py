"""A flow's `Exchange`, and how the addons answer a client.

A flow azt takes on carries its `Exchange` under one metadata key; a flow without one is not
azt's (a passthrough on the proxy listener) and every addon leaves it alone.

Also `fail_closed`: a hook that raises answers the client with an error in its dialect
instead of letting mitmproxy forward an unprocessed request.
"""

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from azt.errors import ApiError, internal_error
from azt.exchange import Client, Exchange
from azt.routes import Handler

logger = logging.getLogger("azt.gateway")

EXCHANGE = "azt.exchange"
# mitmproxy's listener types, as azt names its ingresses.
_INGRESS = {"reverse": "reverse", "regular": "proxy", "socks5": "socks"}


def open_exchange(flow: http.HTTPFlow, *, intercepted_host: str | None = None) -> Exchange:
    """Take the flow on: its exchange, created from what the client sent."""
    peer = flow.client_conn.peername
    exchange = Exchange(
        id=flow.id,
        client=Client(
            address=str(peer[0]) if peer else "",
            ingress=_INGRESS.get(flow.client_conn.proxy_mode.type_name, "reverse"),
        ),
        method=flow.request.method,
        path=flow.request.path.split("?", 1)[0],
        started_at=flow.request.timestamp_start,
        intercepted_host=intercepted_host,
    )
    flow.metadata[EXCHANGE] = exchange
    return exchange


def exchange_of(flow: http.HTTPFlow) -> Exchange | None:
    exchange = flow.metadata.get(EXCHANGE)
    return exchange if isinstance(exchange, Exchange) else None


def live_exchange(flow: http.HTTPFlow) -> Exchange | None:
    """The exchange of a flow that is azt's and not yet answered, errored or handed over."""
    exchange = exchange_of(flow)
    if exchange is None or flow.response or flow.error or exchange.handed_over:
        return None
    return exchange


def claim(flow: http.HTTPFlow, handler: Handler) -> Exchange | None:
    """The live exchange of a flow whose route `handler` serves, else None."""
    exchange = live_exchange(flow)
    if exchange is None or exchange.route is None or exchange.route.handler is not handler:
        return None
    return exchange


def respond_json(flow: http.HTTPFlow, status: int, body: bytes, headers: dict[str, str]) -> None:
    flow.response = http.Response.make(
        status, body, {"content-type": "application/json", **headers}
    )


def answer_locally(flow: http.HTTPFlow, response: http.Response) -> None:
    """The gateway's own (successful) answer, such as the model list."""
    flow.response = response
    exchange = exchange_of(flow)
    if exchange is not None:
        exchange.local = True


def respond_error(flow: http.HTTPFlow, error: ApiError) -> None:
    respond_json(flow, error.status, error.body_bytes(), error.headers)
    exchange = exchange_of(flow)
    if exchange is not None:
        exchange.answered = error


def fail_closed[F: Callable[..., Any]](hook: F) -> F:
    """Wrap a request-phase hook: any exception becomes an error response to the client."""
    what = f"handling the request ({hook.__qualname__})"

    if inspect.iscoroutinefunction(hook):

        @functools.wraps(hook)
        async def guarded_async(self: Any, flow: http.HTTPFlow) -> None:
            try:
                await hook(self, flow)
            except Exception:
                logger.exception("%s failed", hook.__qualname__)
                respond_error(flow, internal_error(what))

        return guarded_async  # type: ignore[return-value]

    @functools.wraps(hook)
    def guarded(self: Any, flow: http.HTTPFlow) -> None:
        try:
            hook(self, flow)
        except Exception:
            logger.exception("%s failed", hook.__qualname__)
            respond_error(flow, internal_error(what))

    return guarded  # type: ignore[return-value]
