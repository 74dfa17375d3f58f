"""Build and run the gateway: the local pool endpoint plus a mitmproxy master in one loop.

mitmproxy owns both listeners: the reverse listener (base-URL mode) and the HTTP proxy
listener. The master gets only the mitmproxy addons azt needs, then the azt chain.
"""

import asyncio
import logging
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mitmproxy import options
from mitmproxy.addons import (
    block,
    core,
    disable_h2c,
    next_layer,
    proxyserver,
    strip_dns_https_records,
    tlsconfig,
    update_alt_svc,
)
from mitmproxy.master import Master
from mitmproxy.proxy.mode_servers import ServerInstance

from azt import protocol_errors
from azt.addons import addon_chain
from azt.addons.admin import AdminApi
from azt.addons.flowfile import FlowFile, FlowFileError
from azt.addons.handoff import PoolLink
from azt.addons.inspector import Inspector, InspectorError
from azt.certs import ensure_ca
from azt.config import MiB, Settings
from azt.loopback import LoopbackServer
from azt.metrics import Metrics, PoolSnapshot
from azt.netlimits import listen_backlog, pool_limits
from azt.pool.runtime import PoolRuntime
from azt.records.recorder import Recorder

logger = logging.getLogger(__name__)


class GatewayStartError(RuntimeError):
    """A listener could not be opened (port in use, address not available, ...)."""


@dataclass(frozen=True)
class Listeners:
    reverse: tuple[str, int]
    proxy: tuple[str, int] | None
    socks: tuple[str, int] | None = None
    inspect_url: str | None = None  # the --inspect UI, with its access token

    @property
    def base_url(self) -> str:
        host, port = self.reverse
        return f"http://{_url_host(host)}:{port}"

    @property
    def socks_url(self) -> str | None:
        if self.socks is None:
            return None
        host, port = self.socks
        return f"socks5h://{_url_host(host)}:{port}"

    @property
    def proxy_url(self) -> str | None:
        if self.proxy is None:
            return None
        host, port = self.proxy
        return f"http://{_url_host(host)}:{port}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def mitmproxy_options(settings: Settings, pool_url: str, confdir: str) -> options.Options:
    modes = [f"reverse:{pool_url}@{settings.host}:{settings.port}"]
    if settings.proxy:
        modes.append(f"regular@{settings.host}:{settings.proxy_port}")
    if settings.socks_port is not None:
        modes.append(f"socks5@{settings.host}:{settings.socks_port}")
    opts = options.Options(mode=modes, confdir=confdir)
    opts.update_defer(
        # An intercepted host must never need DNS before an addon has routed the flow.
        connection_strategy="lazy",
        # The admin API checks the Host a client asked for (DNS rebinding); keep it.
        keep_host_header=True,
        # mitmproxy refuses bigger bodies itself; routes enforce their own, smaller limits.
        body_size_limit=str(settings.compact_body_limit + MiB),
        # Streamed replies keep their body only when the user asked to see bodies.
        store_streamed_bodies=bool(
            settings.flow_bodies and (settings.save_flows or settings.inspect)
        ),
    )
    return opts


def widen_accept_queues(servers: Iterable[ServerInstance[Any]], backlog: int) -> None:
    """Give mitmproxy's listening sockets an accept queue of `backlog` connections.

    mitmproxy opens them with asyncio's default of 100, so a burst of new connections beyond
    what the event loop accepts in time is dropped by the kernel. `listen()` again on a
    listening socket only resizes its queue.
    """
    for server in servers:
        # mitmproxy keeps an instance's asyncio servers in `_servers` (UDP ones have no sockets)
        for listener in getattr(server, "_servers", ()):
            for sock in getattr(listener, "sockets", ()):
                if sock.type != socket.SOCK_STREAM:
                    continue
                try:
                    # asyncio's and uvloop's wrappers hide listen(); a duplicate is the socket
                    with sock.dup() as same:
                        same.listen(backlog)
                except OSError as e:
                    logger.warning(
                        "%s: accept queue left as it was: %s", server.mode.description, e
                    )
                    continue
                logger.info("%s: accept queue of %d connections", server.mode.description, backlog)


class Gateway:
    """One running gateway. `start()`, then `wait()` until `shutdown()`, then `stop()`."""

    def __init__(self, runtime: PoolRuntime, confdir: str) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self._confdir = confdir
        self._pool_server = LoopbackServer(runtime.app.asgi(), limits=pool_limits(self.settings))
        self.recorder = Recorder(self.settings, runtime.database)
        self.metrics = Metrics()
        self.recorder.observe(self.metrics.observe)
        self._master: Master | None = None
        self.listeners: Listeners | None = None

    @property
    def pool_url(self) -> str:
        """The local account pool's address (it answers only requests with the secret)."""
        return self._pool_server.url

    async def start(self) -> Listeners:
        ensure_ca(Path(self._confdir))
        protocol_errors.install()
        self.recorder.start()
        await self._pool_server.start()
        master = Master(mitmproxy_options(self.settings, self._pool_server.url, self._confdir))
        master.addons.add(
            core.Core(),
            block.Block(),
            strip_dns_https_records.StripDnsHttpsRecords(),
            disable_h2c.DisableH2C(),
            proxyserver.Proxyserver(),
            next_layer.NextLayer(),
            tlsconfig.TlsConfig(),
            update_alt_svc.UpdateAltSvc(),
        )
        pool = PoolLink(self._pool_server.port, self.runtime.secret, self.runtime.exchanges)
        admin = AdminApi(self.recorder, self.metrics, self._pool_snapshot)
        master.addons.add(
            *addon_chain(self.settings, self.runtime.catalog, pool, admin, recorder=self.recorder)
        )
        self._master = master
        try:
            inspect_url = await self._start_flow_debugging(master)
        except (FlowFileError, InspectorError) as e:
            await self.stop()
            raise GatewayStartError(str(e)) from e
        servers = master.addons.get("proxyserver").servers
        ok = await master.addons.get("proxyserver").setup_servers()
        if not ok:
            problems = "; ".join(
                f"{s.mode.full_spec}: {s.last_exception}" for s in servers if s.last_exception
            )
            await self.stop()
            raise GatewayStartError(problems or "a listener could not be opened")
        widen_accept_queues(servers, listen_backlog())
        await master.running()
        self.listeners = replace(self._bound(servers), inspect_url=inspect_url)
        return self.listeners

    @staticmethod
    async def _start_flow_debugging(master: Master) -> str | None:
        """Open the flow file and start the inspector UI (if asked for) before any flow."""
        flow_file: FlowFile | None = master.addons.get("flowfile")
        if flow_file is not None:
            flow_file.open()
        inspector: Inspector | None = master.addons.get("inspector")
        return await inspector.start() if inspector is not None else None

    async def _pool_snapshot(self) -> PoolSnapshot:
        slots = self.runtime.slots
        return PoolSnapshot(
            accounts=await self.runtime.list_accounts(),
            in_flight=slots.snapshot(),
            waiting=slots.waiting,
            now=time.time(),
        )

    @staticmethod
    def _bound(servers: Iterable[ServerInstance[Any]]) -> Listeners:
        bound = {server.mode.type_name: tuple(server.listen_addrs[0][:2]) for server in servers}
        reverse = bound.get("reverse")
        assert reverse is not None
        return Listeners(reverse, bound.get("regular"), bound.get("socks5"))  # type: ignore[arg-type]

    def shutdown(self) -> None:
        """Ask the gateway to stop; safe from a signal handler or another thread."""
        if self._master is not None:
            self._master.shutdown()

    async def wait(self) -> None:
        assert self._master is not None
        await self._master.should_exit.wait()

    async def stop(self) -> None:
        # Open streams end with a terminal event before the listeners go away.
        await self.runtime.app.drain()
        master, self._master = self._master, None
        if master is not None:
            await master.done()
            # master.done() leaves the sockets bound; release the ports explicitly.
            await master.addons.get("proxyserver").servers.update([])
        await self._pool_server.stop()
        # Every flow has ended by now, so its record is queued: write them all out.
        await asyncio.get_running_loop().run_in_executor(None, self.recorder.close)
