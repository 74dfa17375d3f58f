"""Decide which flows are azt's: everything on the reverse listener; nothing else yet.

The proxy listener passes every connection through untouched (no TLS interception), so apps
using it keep working; intercepting OpenAI hosts is scoped here, per listener, in
`tls_clienthello` rather than with mitmproxy's global `allow_hosts`.
"""

from mitmproxy import http, tls
from mitmproxy.proxy.mode_specs import ReverseMode

from azt.addons.flowstate import PASSTHROUGH


class Scope:
    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        if not isinstance(data.context.client.proxy_mode, ReverseMode):
            data.ignore_connection = True

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not isinstance(flow.client_conn.proxy_mode, ReverseMode):
            flow.metadata[PASSTHROUGH] = True
