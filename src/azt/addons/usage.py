"""Codex usage checks (`/wham/usage`, `/api/codex/usage`): answered by the pool for the pool.

The Codex CLI can refuse a turn when its usage check says the signed-in account is spent. The
pool answers from every pooled account's last known quota, so the check reflects what azt can
still serve. No upstream call is made; the client's credentials are dropped on the way.
"""

from mitmproxy import http

from azt.addons.flowstate import fail_closed, is_ours, route_of
from azt.addons.handoff import hand_to_pool

ROUTE_NAME = "usage.pooled"


class UsageRoute:
    def __init__(self, pool_port: int, secret: str) -> None:
        self._pool_port = pool_port
        self._secret = secret

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        route = route_of(flow)
        if not is_ours(flow) or route is None or route.name != ROUTE_NAME:
            return
        hand_to_pool(flow, route.pool_path or "/usage", self._pool_port, self._secret)
