"""Images routes: hand generations, edits and cached images to the pool.

The pool does the work here (parsing JSON or multipart, translating, fanning `n` out across
accounts, collecting the image) because one client request can need several upstream calls,
which only the pool can make. Image work is marked as needing a paid plan.
"""

from mitmproxy import http

from azt.addons.flowstate import fail_closed, is_ours, route_of
from azt.addons.handoff import hand_to_pool
from azt.routes import IMAGE_CACHE_PREFIX, normalise_path

ROUTES = frozenset({"images.generations", "images.edits", "images.cached"})


class ImagesRoute:
    def __init__(self, pool_port: int, secret: str) -> None:
        self._pool_port = pool_port
        self._secret = secret

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        route = route_of(flow)
        if not is_ours(flow) or route is None or route.name not in ROUTES:
            return
        path = route.pool_path or "/"
        if route.name == "images.cached":
            path += normalise_path(flow.request.path).removeprefix(IMAGE_CACHE_PREFIX)
        needs = None if route.name == "images.cached" else "paid"
        hand_to_pool(flow, path, self._pool_port, self._secret, needs=needs)
