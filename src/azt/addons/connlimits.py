"""Bound what one client connection may cost: the size of its request heads, and how long it
may stay open without sending one.

mitmproxy buffers an HTTP/1 request head without limit until its blank line arrives (a
`FIXME` in `Http1Server.read_headers`), and its only timer is `tcp_timeout`, which any byte
resets. So:

- `BoundedHttp1Server` is mitmproxy's HTTP/1 server with a cap on the bytes it holds of an
  unfinished head: past `header_limit_kb` it answers 431 and closes. `ConnectionLimits` puts
  it under each HTTP layer from the `next_layer` hook; mitmproxy's `HttpLayer` keeps a server
  it finds already set for the client (as it does for client playback). A complete head over
  the limit (HTTP/1 or HTTP/2) gets the same 431 from the `requestheaders` hook.
- `ConnectionLimits` keeps a `ConnectionWatch` per client connection, fed by the hooks (and by
  the HTTP/1 server for the first byte of a head), and closes a connection whose header or
  idle timeout runs out. Tunnels to hosts azt does not intercept are left alone.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from mitmproxy import connection, ctx, http, tcp, tls
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers import HttpLayer, TCPLayer
from mitmproxy.proxy.layers.http._http1 import Http1Server
from mitmproxy.utils import human

from azt import protocol_errors
from azt.addons.flowstate import fail_closed, respond_error
from azt.config import Settings
from azt.netlimits import (
    ConnectionWatch,
    Phase,
    head_limits,
    head_size,
    head_too_large,
    head_too_large_response,
)

logger = logging.getLogger(__name__)


class BoundedHttp1Server(Http1Server):
    """mitmproxy's HTTP/1 server, holding at most `limit` bytes of a request head."""

    def __init__(self, context: Context, limit: int, head_started: Callable[[], None]) -> None:
        super().__init__(context)
        self._limit = limit
        self._head_started = head_started

    def _handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if self.state == self.discard:
            yield from self.discard(event)
            return
        received = isinstance(event, events.DataReceived) and bool(event.data)
        if received and self.state == self.read_headers and not self.buf:
            self._head_started()
        try:
            yield from super()._handle_event(event)
        except NotImplementedError as e:
            # mitmproxy cannot read request trailers; left alone the connection would hang.
            yield from self.refuse(400, f"{e} Send the body without trailers")
            return
        if not received or len(self.buf) <= self._limit:
            return
        if self.state == self.read_headers:
            # What is buffered is an unfinished head (a finished one would have been parsed).
            yield from self.refuse_head()
        elif self.state == self.wait:
            # The next request arrives while this one is answered, and it is already too big
            # to hold; there is no way to answer it before the current response is done.
            yield commands.Log(
                f"{self._peer()}: closing, {len(self.buf)} bytes sent ahead of a response"
            )
            self.buf = type(self.buf)()
            yield commands.CloseConnection(self.conn)
            self.state = self.done

    def refuse_head(self) -> layer.CommandGenerator[None]:
        yield commands.Log(f"{self._peer()}: request head over {self._limit} bytes, answered 431")
        self.buf = type(self.buf)()
        yield commands.SendData(self.conn, head_too_large_response(self._limit))
        # Close only our half and discard what still comes: closing a socket with unread data
        # sends a reset, which can destroy the 431 before the client reads it.
        yield commands.CloseTcpConnection(self.conn, half_close=True)
        self.state = self.discard

    def refuse(self, status: int, message: str) -> layer.CommandGenerator[None]:
        """Answer `status` in OpenAI shape and close, whatever state the request is in."""
        yield commands.Log(f"{self._peer()}: answered {status}: {message}")
        self.buf = type(self.buf)()
        yield commands.SendData(self.conn, protocol_errors.error_reply(status, message))
        yield commands.CloseTcpConnection(self.conn, half_close=True)
        self.state = self.discard

    def discard(self, event: events.Event) -> layer.CommandGenerator[None]:
        if isinstance(event, events.ConnectionClosed):
            yield commands.CloseConnection(self.conn)
            self.state = self.done

    def _peer(self) -> str:
        return human.format_address(self.conn.peername)


def bound_http1(http_layer: HttpLayer, make_server: Callable[[Context], Http1Server]) -> None:
    """Have `http_layer` read HTTP/1 requests with the server `make_server` builds.

    The client's protocol is known only when the layer starts (after any TLS handshake), so
    the server is set then, before the layer would make its own.
    """
    handle: Callable[[events.Event], layer.CommandGenerator[None]] = http_layer._handle_event

    def start_bounded(event: events.Event) -> layer.CommandGenerator[None]:
        if isinstance(event, events.Start):
            alpn = http_layer.context.client.alpn or b""
            if alpn != b"h2" and not alpn.startswith(b"h3"):
                http_layer.connections.setdefault(
                    http_layer.context.client, make_server(http_layer.context.fork())
                )
        return handle(event)

    http_layer._handle_event = start_bounded  # type: ignore[method-assign]


def _stack(top: layer.Layer | None) -> list[layer.Layer]:
    """The layers a `next_layer` decision stacks up (TLS layers and what they carry)."""
    stacked = []
    while isinstance(top, layer.Layer) and not isinstance(top, layer.NextLayer):
        stacked.append(top)
        top = getattr(top, "child_layer", None)
    return stacked


@dataclass
class _Watched:
    watch: ConnectionWatch
    timer: asyncio.TimerHandle | None = None


class ConnectionLimits:
    def __init__(self, settings: Settings) -> None:
        self.limits = head_limits(settings)
        self._watched: dict[str, _Watched] = {}

    # Connections: a watch per client, a timer per watch.

    def client_connected(self, client: connection.Client) -> None:
        watched = _Watched(ConnectionWatch(self.limits))
        self._watched[client.id] = watched
        self._arm(client, watched)

    def client_disconnected(self, client: connection.Client) -> None:
        watched = self._watched.pop(client.id, None)
        if watched is not None and watched.timer is not None:
            watched.timer.cancel()

    def _update(
        self, client: connection.Client, changed: Callable[[ConnectionWatch], bool]
    ) -> None:
        watched = self._watched.get(client.id)
        if watched is not None and changed(watched.watch):
            self._arm(client, watched)

    def _arm(self, client: connection.Client, watched: _Watched) -> None:
        if watched.timer is not None:
            watched.timer.cancel()
            watched.timer = None
        timeout = watched.watch.timeout()
        if timeout is not None:
            watched.timer = asyncio.get_running_loop().call_later(
                timeout, self._expire, client, watched.watch.phase
            )

    def _expire(self, client: connection.Client, phase: Phase) -> None:
        watched = self._watched.get(client.id)
        if watched is None or watched.watch.phase is not phase:
            return
        watched.timer = None
        peer = human.format_address(client.peername)
        if phase is Phase.AWAITING_HEAD:
            logger.info("%s: no complete request head in time, closing", peer)
        else:
            logger.debug("%s: idle, closing", peer)
        close_client(client)

    # What the hooks say about a connection.

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        client = nextlayer.context.client
        for stacked in _stack(nextlayer.layer):
            if isinstance(stacked, HttpLayer):
                bound_http1(stacked, lambda context: self._http1_server(context, client))
            elif isinstance(stacked, TCPLayer):
                self._update(client, ConnectionWatch.passed_through)

    def _http1_server(self, context: Context, client: connection.Client) -> Http1Server:
        def head_started() -> None:
            self._update(client, ConnectionWatch.head_started)

        return BoundedHttp1Server(context, self.limits.head_bytes, head_started)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        # After Scope, which decides what passes through.
        if data.ignore_connection:
            self._update(data.context.client, ConnectionWatch.passed_through)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._update(flow.client_conn, ConnectionWatch.passed_through)

    @fail_closed
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.flow_started(flow.id))
        request = flow.request
        size = head_size(request.data.method, request.data.path, request.headers.fields) + len(
            request.data.authority
        )
        if size > self.limits.head_bytes and flow.response is None:
            respond_error(flow, head_too_large(self.limits.head_bytes))
            assert flow.response is not None
            if not (request.is_http2 or request.is_http3):
                flow.response.headers["connection"] = "close"

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.flow_started(flow.id))

    def http_connected(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.tunnel_opened(flow.id))

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.flow_ended(flow.id))

    def response(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.flow_ended(flow.id))

    def error(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.flow_ended(flow.id))

    def websocket_start(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.flow_started(flow.id))

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._update(flow.client_conn, lambda watch: watch.flow_ended(flow.id))


def close_client(client: connection.Client) -> None:
    """Close a client connection from outside its layers, as mitmproxy's own inactivity
    timeout does: its connection task is cancelled and the layers see it closed."""
    handler = ctx.master.addons.get("proxyserver").connections.get(client.id)
    if handler is None:
        return
    transport = handler.transports.get(handler.client)
    if transport is not None and transport.handler is not None:
        handler.close_connection(handler.client)
