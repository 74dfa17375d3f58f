"""Keep other web sites from using the API through a browser (the rules: `azt.sites`).

On the reverse listener, a request whose Host is not one of the gateway's names is refused
(403 `host_not_allowed`): that is how a DNS-rebinding page shows itself. On every route, a
request a browser sent for a page of another site (its `Origin`, or `Sec-Fetch-Site:
cross-site`) is refused (403 `origin_not_allowed`) unless the origin is on this machine or
listed in `allowed_origins`; on the proxy listener the intercepted host's own pages count as
the same site. Both refusals replace any answer `Ingress` gave, so such a request gets the
same 403 on every path.

Pages that are allowed get CORS: their preflights (the preflight route) are answered here with
the methods of the path and the headers the SDKs send, and every reply carries
`Access-Control-Allow-Origin` for them.
"""

import socket
from collections.abc import Iterable

from mitmproxy import http

from azt.addons.flowstate import answer_locally, exchange_of, fail_closed, respond_error
from azt.addons.listening import bound_listeners, local_end_of
from azt.config import Settings
from azt.errors import ApiError
from azt.netaddr import IPAddress, parse_ip
from azt.routes import PREFLIGHT_ROUTE, Handler, methods_for
from azt.sites import SitePolicy, check_browser, host_allowed, preflight_headers, reply_headers

# The origin a reply names in Access-Control-Allow-Origin (in the flow's metadata).
CORS_ORIGIN = "azt.cors_origin"


class CrossSite:
    HANDLES = Handler.PREFLIGHT

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        bound = parse_ip(settings.host)
        self._policy = SitePolicy()
        self.listening([bound] if bound is not None else [])

    def running(self) -> None:
        reverse = bound_listeners().get("reverse")
        if reverse:
            self.listening(listener.address for listener in reverse)

    def listening(self, addresses: Iterable[IPAddress]) -> None:
        """The reverse listener's bound addresses (read from mitmproxy once it is up)."""
        self._policy = SitePolicy.build(
            addresses,
            machine_names=[socket.gethostname()],
            allowed_hosts=self._settings.allowed_hosts,
            allowed_origins=self._settings.allowed_origins,
        )

    @fail_closed
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        exchange = exchange_of(flow)
        if exchange is None or exchange.handed_over or flow.error:
            return
        request = flow.request
        if exchange.intercepted_host:
            authority, scheme = request.host_header or exchange.intercepted_host, request.scheme
        else:
            authority, scheme = request.host_header or "", "http"
            if not host_allowed(authority, self._policy, local_end_of(flow.client_conn)):
                respond_error(flow, _foreign_host(authority))
                return
        verdict = check_browser(request.headers, self._policy, authority, scheme)
        if verdict.refused is not None:
            respond_error(flow, _foreign_origin(verdict.refused))
            return
        if verdict.cors_origin is None:
            return
        flow.metadata[CORS_ORIGIN] = verdict.cors_origin
        if exchange.route is PREFLIGHT_ROUTE and flow.response is None:
            headers = preflight_headers(
                verdict.cors_origin, methods_for(request.path), request.headers
            )
            answer_locally(flow, http.Response.make(204, b"", headers))

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        origin = flow.metadata.get(CORS_ORIGIN)
        response = flow.response
        if not isinstance(origin, str) or response is None:
            return
        if "access-control-allow-origin" in response.headers:
            return  # a preflight answer: complete already
        response.headers.update(reply_headers(origin, response.headers.get("vary", "")))


def _foreign_host(authority: str) -> ApiError:
    return ApiError(
        403,
        f"This gateway does not answer to the Host {authority.strip()!r}. If that name is "
        "really this gateway, add it to the `allowed_hosts` setting.",
        code="host_not_allowed",
    )


def _foreign_origin(what: str) -> ApiError:
    return ApiError(
        403,
        f"Requests from web pages of other sites are refused, and this one came from {what}. "
        "To let a web app use the gateway from a browser, add its origin to the "
        "`allowed_origins` setting.",
        code="origin_not_allowed",
    )
