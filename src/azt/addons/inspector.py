"""`--inspect`: watch redacted copies of azt's flows live in mitmweb's UI.

The UI runs in a helper process, not in the gateway's own event loop. mitmproxy keeps its
running master in process-wide globals (`mitmproxy.ctx.master` and `ctx.options`): the proxy
listeners read them for every new connection, and mitmweb's handlers read them for every UI
request, so a second master in one process sends one side's work to the other side's addons.
A separate process also means the UI never holds anything but redacted copies: no upstream
token, client credential or pool secret is ever in its memory.

The gateway pipes each copy to the helper (mitmproxy's flow file format on its stdin) when a
request arrives, when its reply starts and when it finishes; the helper adds it to, or updates
it in, mitmweb's flow view. The helper serves the UI on 127.0.0.1 with mitmweb's own token
authentication, announces its URL on stdout, and exits when its stdin closes: when the
gateway stops, or if the gateway dies.
"""

import asyncio
import collections
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from mitmproxy import http
from mitmproxy.flow import Flow
from mitmproxy.io import compat, tnetstring

from azt.addons.redaction import Redactor

logger = logging.getLogger("azt.inspector")

LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 30.0  # seconds for the helper to import mitmweb and bind its port
STOP_TIMEOUT = 5.0
MAX_BACKLOG = 64 * 1024 * 1024  # bytes waiting in the pipe before updates are dropped
MAX_SHOWN_FLOWS = 10_000  # the helper forgets the oldest flows beyond this
_HELPER = "from azt.addons.inspector import main; main()"

# A flow's state as tnetstring reads it back (mitmproxy's migration also takes the bytes keys
# of old flow files).
FlowState = dict[bytes | str, Any]


class InspectorError(RuntimeError):
    """The inspector UI could not be started."""


class Inspector:
    """Feeds redacted copies of every flow to the mitmweb helper process."""

    def __init__(self, port: int, redactor: Redactor) -> None:
        self.port = port
        self._redactor = redactor
        self._process: asyncio.subprocess.Process | None = None
        self._warned = False
        self.url: str | None = None

    async def start(self) -> str:
        """Start the helper and return the UI's URL, with its access token."""
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _HELPER,
                str(self.port),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        except OSError as e:
            raise InspectorError(f"cannot start the inspector UI: {e}") from e
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)
            announced = json.loads(line) if line.strip() else {}
        except (TimeoutError, ValueError):
            announced = {}
        if not isinstance(announced, dict):
            announced = {}
        url = announced.get("url")
        if not isinstance(url, str):
            await _stop(process)
            raise InspectorError(announced.get("error") or "the inspector UI did not start")
        self._process, self.url = process, url
        return url

    def request(self, flow: http.HTTPFlow) -> None:
        self._publish(flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._publish(flow)

    def response(self, flow: http.HTTPFlow) -> None:
        self._publish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._publish(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self._publish(flow)

    async def done(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            await _stop(process)

    def _publish(self, flow: http.HTTPFlow) -> None:
        pipe = self._process.stdin if self._process is not None else None
        if pipe is None:
            return
        if pipe.is_closing():
            self._warn_once("the inspector UI has stopped; flows are no longer shown")
            return
        if pipe.transport.get_write_buffer_size() > MAX_BACKLOG:
            self._warn_once("the inspector UI is falling behind; some flow updates were dropped")
            return
        try:
            pipe.write(tnetstring.dumps(self._redactor.copy(flow).get_state()))
        except Exception:
            # Showing a flow is a debugging aid: it must never break the flow itself.
            logger.warning("could not show a flow in the inspector", exc_info=True)

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(message)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Close the helper's stdin (it exits on its own), or kill it if it does not."""
    try:
        await asyncio.wait_for(process.communicate(), STOP_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.communicate()


# ---- the helper process ----------------------------------------------------------------------


class FlowFeed:
    """Shows flow states in mitmweb's view: a new flow is added, a known one updated."""

    def __init__(self, view: Any, limit: int = MAX_SHOWN_FLOWS) -> None:
        self._view = view
        self._limit = limit
        self._order: collections.deque[str] = collections.deque()

    def show(self, state: FlowState) -> None:
        try:
            self._show(compat.migrate_flow(state))
        except Exception:
            logger.warning("could not show a flow", exc_info=True)

    def _show(self, state: FlowState) -> None:
        shown = self._view.get_by_id(state["id"])
        if shown is not None:
            shown.set_state(state)
            self._view.update([shown])
            return
        flow = Flow.from_state(state)
        self._view.add([flow])
        self._order.append(flow.id)
        while len(self._order) > self._limit:
            oldest = self._view.get_by_id(self._order.popleft())
            if oldest is not None:
                self._view.remove([oldest])


def read_states(
    source: BinaryIO, deliver: Callable[[FlowState], None], finished: Callable[[], None]
) -> None:
    """Read flow states until the gateway closes the pipe (runs on its own thread)."""
    try:
        while True:
            try:
                state = tnetstring.load(source)
            except ValueError:  # end of input (or a broken writer): either way, stop
                return
            if isinstance(state, dict):
                deliver(state)
    finally:
        finished()


def _announce(message: dict[str, str]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def serve_ui(port: int, source: BinaryIO) -> int:
    """Serve mitmweb on loopback, fed from `source`, until it ends. Returns an exit status."""
    import tornado.httpserver
    import tornado.netutil
    from mitmproxy import options
    from mitmproxy.tools.web.master import WebMaster

    # No proxy listener: this master only shows flows it is given.
    master = WebMaster(options.Options(server=False), with_termlog=False)
    master.options.update(web_open_browser=False, web_host=LOOPBACK)
    try:
        sockets = tornado.netutil.bind_sockets(port, LOOPBACK)
    except OSError as e:
        _announce({"error": f"cannot serve the inspector on {LOOPBACK}:{port}: {e.strerror}"})
        await master.done()
        return 1
    master.options.update(web_port=sockets[0].getsockname()[1])
    server = tornado.httpserver.HTTPServer(master.app)
    server.add_sockets(sockets)

    loop = asyncio.get_running_loop()
    feed = FlowFeed(master.view)
    ended = asyncio.Event()

    def deliver(state: FlowState) -> None:
        loop.call_soon_threadsafe(feed.show, state)

    def finished() -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already gone
            loop.call_soon_threadsafe(ended.set)

    reader = threading.Thread(
        target=read_states, args=(source, deliver, finished), name="flow-feed", daemon=True
    )
    reader.start()
    _announce({"url": master.web_url})
    await ended.wait()
    server.stop()
    await master.done()
    return 0


def main() -> None:
    """The helper process: `python -c '...main()' PORT`."""
    port = int(sys.argv[1])
    # Ctrl-C reaches the whole terminal process group; the gateway decides when this ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="azt inspector: %(message)s")
    # Tornado's access log would print request URLs, access token included.
    logging.getLogger("tornado.access").disabled = True
    sys.exit(asyncio.run(serve_ui(port, sys.stdin.buffer)))
