"""Serve an ASGI app on a loopback socket inside the current event loop.

Both the local account pool and the simulator use this: they share the gateway's loop, so a
request never crosses a thread, and port 0 gives a free port the caller can read back.
"""

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from azt.netlimits import listen_backlog
from azt.tasks import spawn


class _QuietServer(uvicorn.Server):
    # The embedding process owns SIGINT/SIGTERM; uvicorn must not take them over.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LoopbackServer:
    """An ASGI app listening on `host:port` (port 0 picks a free one)."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
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
            timeout_keep_alive=75,
            timeout_graceful_shutdown=1,
            backlog=listen_backlog(),
            h11_max_incomplete_event_size=None,
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
