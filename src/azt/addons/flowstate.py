"""What the addons tell each other about a flow (kept in `flow.metadata`), and how to answer.

Also `fail_closed`: a hook that raises answers the client with an error in its dialect
instead of letting mitmproxy forward an unprocessed request.
"""

import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from mitmproxy import http

from azt.errors import ApiError, internal_error
from azt.routes import Route

logger = logging.getLogger("azt.gateway")

ROUTE = "azt.route"  # the Route this request matched
PASSTHROUGH = "azt.passthrough"  # not ours: leave it untouched
ROUTED = "azt.routed"  # rewritten onto the local pool
BODY = "azt.body"  # the parsed JSON request body
STARTED = "azt.started"  # time.monotonic() when the request arrived
ANSWERED = "azt.answered"  # the ApiError (or "local") the gateway answered with itself
ACCOUNT = "azt.account"  # the pool account that served it
ATTEMPTS = "azt.attempts"  # how many accounts the pool tried
TRANSLATION = "azt.translation"  # the dialect translator handling this flow's reply
INTERCEPTED = "azt.intercepted"  # the OpenAI host a proxy-listener request was for


def route_of(flow: http.HTTPFlow) -> Route | None:
    return flow.metadata.get(ROUTE)


def is_ours(flow: http.HTTPFlow) -> bool:
    """A live flow that no earlier addon has answered or handed off."""
    return not (flow.response or flow.error or flow.metadata.get(PASSTHROUGH))


def respond_json(flow: http.HTTPFlow, status: int, body: bytes, headers: dict[str, str]) -> None:
    flow.response = http.Response.make(
        status, body, {"content-type": "application/json", **headers}
    )


def respond_error(flow: http.HTTPFlow, error: ApiError) -> None:
    respond_json(flow, error.status, error.body_bytes(), error.headers)
    flow.metadata[ANSWERED] = error


def mark_started(flow: http.HTTPFlow) -> None:
    flow.metadata.setdefault(STARTED, time.monotonic())


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
