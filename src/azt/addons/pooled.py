"""Routes the pool serves whole: handed over as they are.

- Codex usage checks (`/backend-api/wham/usage`, `/api/codex/usage`, ...): the pool answers for
  the whole pool from stored quota, without a call upstream, so the Codex CLI does not refuse
  a turn because one account looks spent.
- Images (`/v1/images/*` and cached images): the pool does the image work itself (parsing,
  translating, fanning `n` out, collecting), because one request can need several upstream
  calls; it asks for accounts on a paid plan, and names the parameters it dropped on the
  exchange, which go back to the client in `x-azt-ignored-params`.

The client's credentials are dropped on the way, as for every route handed to the pool.
"""

from mitmproxy import http

from azt.addons.flowstate import claim, exchange_of, fail_closed
from azt.addons.handoff import PoolLink, announce_ignored
from azt.routes import IMAGE_CACHE_PREFIX, IMAGE_CACHE_ROUTE, Handler, normalise_path


class PooledRoutes:
    HANDLES = Handler.POOL

    def __init__(self, pool: PoolLink) -> None:
        self._pool = pool

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        exchange = claim(flow, Handler.POOL)
        if exchange is None or exchange.route is None:
            return
        path = exchange.route.pool_path or "/"
        if exchange.route is IMAGE_CACHE_ROUTE:
            path += normalise_path(flow.request.path).removeprefix(IMAGE_CACHE_PREFIX)
        self._pool.hand_over(flow, exchange, path)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = exchange_of(flow)
        if flow.response is not None and exchange is not None and exchange.route is not None:
            if exchange.route.handler is Handler.POOL:
                announce_ignored(flow.response, exchange)
