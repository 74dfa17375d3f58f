"""The last addon: a request nobody answered or routed is refused, never forwarded as is."""

from mitmproxy import http

from azt.addons.flowstate import ROUTED, is_ours, respond_error
from azt.errors import internal_error


class Barrier:
    def request(self, flow: http.HTTPFlow) -> None:
        if is_ours(flow) and not flow.metadata.get(ROUTED):
            respond_error(flow, internal_error("routing the request (no route claimed it)"))
