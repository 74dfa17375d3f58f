"""Decide which flows are azt's.

Everything on the reverse listener is. On the proxy listener, TLS is intercepted only for the
OpenAI hosts in `intercept_hosts`; connections to any other host pass through untouched, with
no interception (decided per listener in `tls_clienthello`, not with mitmproxy's global
`allow_hosts`, which would also change the reverse listener). On an intercepted host, paths in
`intercept_passthrough` go on to the real host; every other request takes the same pipeline as
the reverse listener, so an unknown path gets azt's 404 and never reaches the real host.
"""

from mitmproxy import http, tls
from mitmproxy.proxy.mode_specs import ReverseMode

from azt.addons.flowstate import exchange_of, open_exchange
from azt.config import Settings


def parse_passthrough(entries: list[str]) -> list[tuple[str, str]]:
    """`host/path-prefix` entries as (host, "/path-prefix") pairs."""
    pairs = []
    for entry in entries:
        host, slash, path = entry.strip().partition("/")
        if host:
            pairs.append((host.lower(), slash + path if slash else "/"))
    return pairs


class Scope:
    def __init__(self, settings: Settings) -> None:
        self._hosts = frozenset(h.strip().lower() for h in settings.intercept_hosts)
        self._passthrough = parse_passthrough(settings.intercept_passthrough)

    def intercepts(self, host: str | None) -> bool:
        return (host or "").lower().rstrip(".") in self._hosts

    def passes_through(self, host: str, path: str) -> bool:
        host = host.lower()
        return any(host == h and path.startswith(p) for h, p in self._passthrough)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        if isinstance(data.context.client.proxy_mode, ReverseMode):
            return
        if not self.intercepts(data.client_hello.sni):
            data.ignore_connection = True

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Take on the flows that are azt's: they get an exchange; the rest are left alone."""
        if isinstance(flow.client_conn.proxy_mode, ReverseMode):
            open_exchange(flow)
            return
        host = flow.request.pretty_host
        if self.intercepts(host) and not self.passes_through(host, flow.request.path):
            open_exchange(flow, intercepted_host=host.lower())
            return
        # Not azt's: relayed as it comes, whatever its size (mitmproxy's body limit is sized
        # for the API's requests and would refuse a large upload to another host).
        flow.request.stream = True

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and exchange_of(flow) is None:
            flow.response.stream = True  # not azt's: relayed as it comes
