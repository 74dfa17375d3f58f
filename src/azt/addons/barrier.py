"""The last addon: a request nobody answered or routed is refused, never forwarded as is."""

from mitmproxy import http

from azt.addons.flowstate import live_exchange, respond_error
from azt.errors import internal_error


class Barrier:
    def request(self, flow: http.HTTPFlow) -> None:
        if live_exchange(flow) is not None:
            respond_error(flow, internal_error("routing the request (no route claimed it)"))
