"""Refuse what the proxy listeners must not relay: this gateway itself, and, for clients on
other machines, this host's loopback and link-local addresses (the rules: `azt.destinations`).

mitmproxy's own guard compares the destination's spelling with a few strings, so
`LOCALHOST:8788`, `[::ffff:127.0.0.1]:8788` or `127.0.0.2:8788` looped through the proxy until
descriptors ran out. Here a destination is resolved (off the event loop) to every address it
stands for, and those are compared, at each point a client names one:

- a plain-HTTP proxy request (`requestheaders`): answered in OpenAI shape, 508 `proxy_loop` or
  403 `destination_not_allowed`;
- a CONNECT (`http_connect`): refused with the same answer;
- every connection the proxy opens for a client (`server_connect`): SOCKS destinations and
  tunnels whose TLS is passed through are refused by not connecting. For a client on another
  machine the connection is dialled at the address that was checked, so a name cannot
  resolve somewhere else in between.

Backstop: a request or connection that arrives from a socket this gateway opened itself is a
loop, whatever the addresses said (a name re-resolved between check and connect), and is
refused at its second hop.

The reverse listener only ever reaches the pool and is not checked.
"""

import ipaddress
import logging
import weakref
from collections.abc import Callable, Iterable

from mitmproxy import connection, http
from mitmproxy.proxy import layer, server_hooks

from azt.addons.flowstate import exchange_of, fail_closed, respond_error
from azt.addons.listening import bound_listeners, local_end_of, peer_of
from azt.destinations import Listener, Refusal, client_is_local, refusal
from azt.errors import ApiError
from azt.netaddr import IPAddress, Resolver, is_own_address, parse_ip

logger = logging.getLogger("azt.gateway")

# The listeners whose clients name their own destinations.
_PROXY_MODES = frozenset({"regular", "socks5"})
_POOL_HOST = "127.0.0.1"  # where `PoolLink.hand_over` sends flows


def _proxied(client: connection.Client) -> bool:
    return client.proxy_mode.type_name in _PROXY_MODES


def _endpoint(address: tuple[str, int] | None) -> tuple[IPAddress, int] | None:
    if not address:
        return None
    ip = parse_ip(str(address[0]))
    return (ip, int(address[1])) if ip is not None else None


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def refusal_error(why: Refusal, host: str, port: int) -> ApiError:
    where = _hostport(host, port)
    if why is Refusal.LOOP:
        return ApiError(
            508,
            f"{where} is this gateway's own listener: the proxy does not relay requests to "
            "itself. Reach the base URL directly, not through the proxy "
            "(NO_PROXY=127.0.0.1,localhost,::1).",
            code="proxy_loop",
            type="invalid_request_error",
        )
    return ApiError(
        403,
        f"{where} is a local address of the gateway's host; clients on other machines cannot "
        "reach it through the proxy.",
        code="destination_not_allowed",
    )


class DestinationGuard:
    def __init__(
        self,
        intercepts: Callable[[str | None], bool],
        pool_port: int,
        *,
        resolver: Resolver | None = None,
        own: Callable[[IPAddress], bool] = is_own_address,
    ) -> None:
        self._intercepts = intercepts  # hosts the proxy serves itself (never dialled)
        self._pool = (_POOL_HOST, pool_port)
        self._pool_listener = Listener(ipaddress.IPv4Address(_POOL_HOST), pool_port)
        self._listeners: tuple[Listener, ...] = (self._pool_listener,)
        self._resolver = resolver or Resolver()
        self._own = own
        # Server connections whose address a client named (a CONNECT or SOCKS destination).
        self._named: weakref.WeakSet[connection.Server] = weakref.WeakSet()
        # The local ends of the connections this gateway has open to servers.
        self._outbound: set[tuple[IPAddress, int]] = set()
        # Connections dialled at a checked address instead of the name they were for.
        self._pinned: weakref.WeakKeyDictionary[connection.Server, connection.Address] = (
            weakref.WeakKeyDictionary()
        )

    def running(self) -> None:
        self.listening(listener for found in bound_listeners().values() for listener in found)

    def listening(self, listeners: Iterable[Listener]) -> None:
        """The gateway's listeners besides the pool (read from mitmproxy once they are up)."""
        self._listeners = (self._pool_listener, *listeners)

    def _looped(self, client: connection.Client) -> bool:
        return _endpoint(client.peername) in self._outbound

    async def _refusal(self, client: connection.Client, host: str, port: int) -> Refusal | None:
        addresses = await self._resolver.resolve(host, port)
        local = client_is_local(peer_of(client), local_end_of(client))
        return refusal(
            addresses, port, client_local=local, listeners=self._listeners, own=self._own
        )

    def _refuse(self, flow: http.HTTPFlow, why: Refusal, host: str, port: int) -> None:
        logger.warning(
            "refused a proxy request from %s for %s (%s)",
            _hostport(*flow.client_conn.peername[:2]) if flow.client_conn.peername else "?",
            _hostport(host, port),
            "this gateway itself" if why is Refusal.LOOP else "a local-only address",
        )
        respond_error(flow, refusal_error(why, host, port))

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        """Note the tunnel's server once a CONNECT or SOCKS handshake has named it."""
        context = nextlayer.context
        if context.server.address is not None and _proxied(context.client):
            self._named.add(context.server)

    @fail_closed
    async def http_connect(self, flow: http.HTTPFlow) -> None:
        host, port = flow.request.host, flow.request.port
        if self._looped(flow.client_conn):
            self._refuse(flow, Refusal.LOOP, host, port)
        elif not self._intercepts(host):
            why = await self._refusal(flow.client_conn, host, port)
            if why is not None:
                self._refuse(flow, why, host, port)

    @fail_closed
    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not _proxied(flow.client_conn) or flow.response is not None:
            return
        host, port = flow.request.host, flow.request.port
        if self._looped(flow.client_conn):
            self._refuse(flow, Refusal.LOOP, host, port)
        elif exchange_of(flow) is None:  # a request passed through to the host it names
            why = await self._refusal(flow.client_conn, host, port)
            if why is not None:
                self._refuse(flow, why, host, port)

    async def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        server = data.server
        if server.error or server.address is None or not _proxied(data.client):
            return
        try:
            await self._vet(data.client, server)
        except Exception:  # never connect unchecked
            logger.exception("checking a proxy destination failed")
            server.error = "azt could not check this destination"

    async def _vet(self, client: connection.Client, server: connection.Server) -> None:
        assert server.address is not None
        host, port = str(server.address[0]), int(server.address[1])
        if self._looped(client):
            server.error = f"{_hostport(host, port)} is this gateway (a proxy loop)"
            return
        if server not in self._named and (host, port) == self._pool:
            return  # a flow azt handed to its pool (a client naming the pool was refused above)
        local = client_is_local(peer_of(client), local_end_of(client))
        addresses = await self._resolver.resolve(host, port)
        if not addresses:
            if not local:  # nothing to check, nothing to pin: do not dial it
                server.error = f"cannot resolve {host}"
            return
        why = refusal(addresses, port, client_local=local, listeners=self._listeners, own=self._own)
        if why is not None:
            logger.warning(
                "refused a proxy connection from %s to %s (%s)",
                _hostport(*client.peername[:2]) if client.peername else "?",
                _hostport(host, port),
                "this gateway itself" if why is Refusal.LOOP else "a local-only address",
            )
            server.error = refusal_error(why, host, port).message
        elif not local:
            self._pinned[server] = server.address
            server.address = (str(addresses[0]), port)  # connect to what was checked

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        end = _endpoint(data.server.sockname)
        if end is not None:
            self._outbound.add(end)
        self._unpin(data.server)

    def server_connect_error(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._unpin(data.server)

    def _unpin(self, server: connection.Server) -> None:
        """Give a pinned connection its name back once dialled: mitmproxy reuses a connection
        for the next request only if its address is the one the request names, and without
        reuse a keep-alive client soon waits on its five connections per address forever.

        mitmproxy refuses to change the address of an open connection, because that would not
        move it; this only relabels it with the name it was opened for, so it is set directly.
        """
        original = self._pinned.pop(server, None)
        if original is not None:
            vars(server)["address"] = original

    def server_disconnected(self, data: server_hooks.ServerConnectionHookData) -> None:
        end = _endpoint(data.server.sockname)
        if end is not None:
            self._outbound.discard(end)
