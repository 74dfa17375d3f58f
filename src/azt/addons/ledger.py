"""Stream replies through, take the pool's routing facts off them, and log a safe summary.

The summary names the route, status, account key, attempts and duration: never a prompt, a
body, or a credential.
"""

import logging
import time

from mitmproxy import http

from azt.addons.flowstate import (
    ACCOUNT,
    ATTEMPTS,
    PASSTHROUGH,
    ROUTED,
    STARTED,
    TRANSLATION,
    route_of,
)
from azt.pool.server import ACCOUNT_HEADER, ATTEMPTS_HEADER, SECRET_HEADER
from azt.routes import normalise_path

logger = logging.getLogger("azt.requests")


class Ledger:
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None:
            return
        if flow.metadata.get(ROUTED):
            flow.metadata[ACCOUNT] = response.headers.pop(ACCOUNT_HEADER, None)
            flow.metadata[ATTEMPTS] = response.headers.pop(ATTEMPTS_HEADER, None)
            response.headers.pop(SECRET_HEADER, None)
        translated = TRANSLATION in flow.metadata  # the translator decides for those
        if not translated and "text/event-stream" in response.headers.get("content-type", ""):
            # Event streams go to the client as they arrive, never buffered.
            response.stream = True

    def response(self, flow: http.HTTPFlow) -> None:
        self._log(flow, flow.response.status_code if flow.response else None)

    def error(self, flow: http.HTTPFlow) -> None:
        self._log(flow, None)

    def _log(self, flow: http.HTTPFlow, status: int | None) -> None:
        if flow.metadata.get(PASSTHROUGH):
            return
        route = route_of(flow)
        # Unmatched requests are named by path, without the query (it may carry a key).
        name = route.name if route else normalise_path(flow.request.path)
        started = flow.metadata.get(STARTED)
        elapsed = (time.monotonic() - started) * 1000 if started else 0.0
        logger.info(
            "%s %s status=%s account=%s attempts=%s %.0fms%s",
            flow.request.method,
            name,
            status if status is not None else "-",
            flow.metadata.get(ACCOUNT) or "-",
            flow.metadata.get(ATTEMPTS) or "-",
            elapsed,
            f" error={flow.error.msg}" if flow.error else "",
        )
