"""Serve an ASGI app on a loopback socket inside the current event loop.

Both the local account pool and the simulator use this: they share the gateway's loop, so a
request never crosses a thread, and port 0 gives a free port the caller can read back.
"""

import asyncio
import contextlib
import logging
import math
import socket
from collections.abc import Iterator
from typing import Any, ClassVar

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from azt.netlimits import HeadLimits, head_too_large_response, listen_backlog
from azt.tasks import spawn

logger = logging.getLogger(__name__)


class _QuietServer(uvicorn.Server):
    # The embedding process owns SIGINT/SIGTERM; uvicorn must not take them over.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on a request head and a time limit to send it.

    uvicorn bounds neither: httptools hands over a header only once it is complete (uvicorn's
    `h11_max_incomplete_event_size` does not apply to it), and its only timer is the
    keep-alive wait after a response, which the first byte of a request cancels. So: a head
    that takes more than `limits.head_bytes` is answered 431 (checked per read, so it may run
    one read over), and a connection whose head is not complete within
    `limits.header_timeout` of connecting, or of its first byte, is closed.
    """

    limits: ClassVar[HeadLimits] = HeadLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._reading_head or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.limits.head_bytes:
            logger.info(
                "%s: request head over %d bytes, answered 431", self.client, self._head_bytes
            )
            self._stop_head_timer()
            self.transport.write(head_too_large_response(self.limits.head_bytes))
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head = True
        self._head_bytes = 0
        if self._head_timer is None:  # the first head keeps the timer started on connecting
            self._start_head_timer()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._stop_head_timer()
        super().on_headers_complete()

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            logger.info("%s: no complete request head in time, closing", self.client)
            self.transport.close()


def bounded_protocol(limits: HeadLimits) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP/1 protocol with `limits` on request heads."""
    return type("BoundedHttpTools", (_BoundedHttpTools,), {"limits": limits})


class LoopbackServer:
    """An ASGI app listening on `host:port` (port 0 picks a free one), with `limits` on the
    request heads it reads and on idle connections."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: HeadLimits | None = None,
    ) -> None:
        limits = limits or HeadLimits()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it Nagle plus delayed ACKs add ~40 ms per reply.
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
        except OSError:
            self._socket.close()  # a busy port must not leak the socket
            raise
        self._socket.setblocking(False)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level=logging.WARNING,
            access_log=False,
            server_header=False,
            # Only azt's own addons and tests talk to these servers; no forwarding headers.
            proxy_headers=False,
            lifespan="off",
            http=bounded_protocol(limits),
            timeout_keep_alive=math.ceil(limits.idle_timeout),
            timeout_graceful_shutdown=1,
            backlog=listen_backlog(),
        )
        self._server = _QuietServer(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._task = spawn(self._server.serve(sockets=[self._socket]), name=f"serve {self.url}")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raises a bind or start-up failure
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()

    async def __aenter__(self) -> "LoopbackServer":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
