"""`azt start`: run the gateway in the foreground until Ctrl-C."""

import asyncio
import ipaddress
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import click

from azt import __version__, eventloop
from azt.certs import ca_dir
from azt.cli.common import EXIT_UNAVAILABLE, fail
from azt.config import Settings, data_dir, database_path, load_settings
from azt.gateway import Gateway, GatewayStartError, Listeners
from azt.loopback import LoopbackServer
from azt.pool.runtime import PoolRuntime
from azt.runtime_file import RuntimeInfo, runtime_file
from azt.store.accounts import AccountStore
from azt.store.db import open_database

DEMO_EMAIL = "demo@example.com"

logger = logging.getLogger(__name__)

# Where the open-file limit goes when the hard limit is "unlimited" (macOS caps the soft limit
# at OPEN_MAX, 10240, whatever the hard limit says).
_UNLIMITED_TARGETS = (1 << 20, 10240)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def raise_open_file_limit() -> None:
    """Raise the soft limit on open files towards the hard limit; never fail.

    Every client connection costs the gateway a descriptor, and each request in flight one
    more towards the pool: a soft limit of 1,024 is reached by a few hundred streams.
    """
    try:
        import resource
    except ImportError:  # Windows has no such limit
        return

    def shown(value: int) -> str:
        return "unlimited" if value == resource.RLIM_INFINITY else str(value)

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError) as e:
        logger.info("cannot read the open-file limit: %s", e)
        return
    targets = _UNLIMITED_TARGETS if hard == resource.RLIM_INFINITY else (hard,)
    problem: Exception | None = None
    for target in targets:
        if soft == resource.RLIM_INFINITY or soft >= target:
            logger.info("open-file limit: %s (hard limit %s)", shown(soft), shown(hard))
            return
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as e:
            problem = e
            continue
        logger.info("raised the open-file limit from %s to %s", shown(soft), target)
        return
    logger.info("open-file limit stays at %s: cannot raise it (%s)", shown(soft), problem)


def configure_logging(verbose: bool) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("azt").setLevel(logging.INFO if verbose else logging.WARNING)
    # httpx logs full URLs at INFO; mitmproxy is chatty about client connections.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("mitmproxy").setLevel(logging.INFO if verbose else logging.WARNING)


@dataclass
class Site:
    """Where this run keeps state and which upstream it talks to."""

    settings: Settings
    database: Path
    home: Path
    demo: bool


@asynccontextmanager
async def demo_site(settings: Settings) -> AsyncIterator[Site]:
    """The simulator in-process as the upstream, with one demo account in a throwaway home."""
    from azt.sim.app import create_app
    from azt.sim.state import SimState

    state = SimState(event_delay=0.02)
    home = Path(tempfile.mkdtemp(prefix="azt-demo-"))
    async with LoopbackServer(create_app(state)) as sim:
        demo_settings = settings.model_copy(
            update={
                "codex_base_url": f"{sim.url}/backend-api/codex",
                "chatgpt_base_url": f"{sim.url}/backend-api",
                "auth_base_url": sim.url,
            }
        )
        site = Site(demo_settings, home / "azt.db", home, demo=True)
        conn = open_database(site.database)
        try:
            AccountStore(conn).upsert(state.pool_account(DEMO_EMAIL))
        finally:
            conn.close()
        try:
            yield site
        finally:
            shutil.rmtree(home, ignore_errors=True)


def banner(listeners: Listeners, runtime: PoolRuntime, site: Site) -> str:
    accounts = runtime.accounts.list()
    default = next((a.label for a in accounts if a.is_default), None)
    lines = [
        click.style(f"azt {__version__} is running", bold=True)
        + (
            click.style("  (demo: answers come from the built-in simulator)", fg="yellow")
            if site.demo
            else ""
        ),
        f"  OpenAI base URL  {listeners.base_url}/v1",
        f"  Codex base URL   {listeners.base_url}/codex/v1",
    ]
    if listeners.proxy_url:
        lines.append(f"  HTTP proxy       {listeners.proxy_url}")
    if listeners.socks_url:
        lines.append(f"  SOCKS5 proxy     {listeners.socks_url}")
    lines.append(
        f"  Accounts         {len(accounts)}" + (f" (default: {default})" if default else "")
    )
    lines.append(f"  State            {site.home}")
    # `azt usage` reads the data directory, not a demo's throwaway home.
    usage_hint = "" if site.demo else "  (azt usage)"
    lines.append(f"  Usage            {listeners.base_url}/_gateway/admin/usage{usage_hint}")
    if site.settings.save_flows:
        lines.append(f"  Saving flows to  {site.settings.save_flows}")
    if listeners.inspect_url:
        lines.append(f"  Flow inspector   {listeners.inspect_url}")
    if not accounts:
        lines.append(
            click.style("  No account yet: run `azt login` in another terminal.", fg="yellow")
        )
    if site.demo:
        lines.append("")
        lines.append("Try it:")
        lines.append(
            f"  curl -N {listeners.base_url}/codex/v1/responses -H 'content-type: "
            'application/json\' \\\n    -d \'{"model":"gpt-5.4","instructions":"",'
            '"input":"Reply with PONG","store":false,"stream":true}\''
        )
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def runtime_info(gateway: Gateway, listeners: Listeners, runtime: PoolRuntime) -> RuntimeInfo:
    """What `azt accounts list` needs to ask this gateway about requests in flight."""
    return RuntimeInfo(
        pid=os.getpid(),
        pool_url=gateway.pool_url,
        pool_secret=runtime.secret,
        base_url=listeners.base_url,
        proxy_url=listeners.proxy_url,
        started_at=int(time.time()),
    )


async def serve(site: Site) -> None:
    runtime = PoolRuntime(site.settings, site.database)
    # The CA and the runtime file always live in the data directory, demo or not, so that
    # `azt env` and `azt run` find the gateway and trust the certificate it signs with.
    gateway = Gateway(runtime, confdir=str(ca_dir()))
    try:
        listeners = await gateway.start()
    except GatewayStartError as e:
        await runtime.aclose()
        fail(f"cannot open the listeners: {e}", EXIT_UNAVAILABLE)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, gateway.shutdown)
    try:
        with runtime_file(data_dir(), runtime_info(gateway, listeners, runtime)):
            click.echo(banner(listeners, runtime, site))
            await gateway.wait()
            click.echo("Stopping…")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await gateway.stop()
        await runtime.aclose()


async def run(settings: Settings, demo: bool) -> None:
    if demo:
        async with demo_site(settings) as site:
            await serve(site)
    else:
        await serve(Site(settings, database_path(), data_dir(), demo=False))


@click.command()
@click.option("--host", help="Address to bind both listeners to (default 127.0.0.1).")
@click.option("--port", type=int, help="Reverse (base-URL) listener port (default 8787).")
@click.option("--proxy-port", type=int, help="HTTP proxy listener port (default 8788).")
@click.option("--no-proxy", is_flag=True, help="Do not run the HTTP proxy listener.")
@click.option("--socks-port", type=int, help="Also run a SOCKS5 proxy listener on this port.")
@click.option("--demo", is_flag=True, help="Serve from the built-in simulator with a demo account.")
@click.option(
    "--save-flows",
    metavar="FILE",
    help="Write a redacted copy of every flow to FILE (`+FILE` appends); open it with "
    "`mitmweb -r FILE`.",
)
@click.option(
    "--flow-bodies",
    is_flag=True,
    help="Keep request and response bodies (prompts, outputs) in saved and inspected flows.",
)
@click.option("--inspect", is_flag=True, help="Watch redacted flows live in mitmweb's UI.")
@click.option("--inspect-port", type=int, metavar="N", help="Port of the --inspect UI (8789).")
@click.option(
    "--log-previews",
    is_flag=True,
    help="Keep the first characters of prompts and replies in the request log (redacted).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log one safe line per request.")
def start(
    host: str | None,
    port: int | None,
    proxy_port: int | None,
    no_proxy: bool,
    socks_port: int | None,
    demo: bool,
    save_flows: str | None,
    flow_bodies: bool,
    inspect: bool,
    inspect_port: int | None,
    log_previews: bool,
    verbose: bool,
) -> None:
    """Run the gateway until Ctrl-C."""
    settings = load_settings(
        {
            "host": host,
            "port": port,
            "proxy_port": proxy_port,
            "proxy": False if no_proxy else None,
            "socks_port": socks_port,
            "save_flows": save_flows,
            "flow_bodies": True if flow_bodies else None,
            "inspect": True if inspect else None,
            "inspect_port": inspect_port,
            "log_previews": True if log_previews else None,
        }
    )
    configure_logging(verbose)
    raise_open_file_limit()
    if not is_loopback(settings.host):
        click.secho(
            f"WARNING: binding {settings.host} exposes azt, and every account in it, to other "
            "machines on the network. Only do this on a network you trust.",
            fg="red",
            bold=True,
            err=True,
        )
    eventloop.run(run(settings, demo))


COMMANDS = [start]
