"""Routes the pool serves whole: handed over as they are, with a hint about who may serve.

- Codex usage checks (`/backend-api/wham/usage`, `/api/codex/usage`, ...): the pool answers for
  the whole pool from stored quota, without a call upstream, so the Codex CLI does not refuse
  a turn because one account looks spent.
- Images (`/v1/images/*` and cached images): the pool does the image work itself (parsing,
  translating, fanning `n` out, collecting), because one request can need several upstream
  calls. Image work needs an account on a paid plan.

The client's credentials are dropped on the way, as for every route handed to the pool.
"""

from mitmproxy import http

from azt.addons.flowstate import fail_closed, is_ours, route_of
from azt.addons.handoff import hand_to_pool
from azt.routes import IMAGE_CACHE_PREFIX, normalise_path

# Route name -> the plan hint the pool's scheduler gets (None: any account).
NEEDS = {
    "usage.pooled": None,
    "images.generations": "paid",
    "images.edits": "paid",
    "images.cached": None,
}


class PooledRoutes:
    def __init__(self, pool_port: int, secret: str) -> None:
        self._pool_port = pool_port
        self._secret = secret

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        route = route_of(flow)
        if not is_ours(flow) or route is None or route.name not in NEEDS:
            return
        path = route.pool_path or "/"
        if route.name == "images.cached":
            path += normalise_path(flow.request.path).removeprefix(IMAGE_CACHE_PREFIX)
        hand_to_pool(flow, path, self._pool_port, self._secret, needs=NEEDS[route.name])
