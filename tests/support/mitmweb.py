"""Following the inspector's flow list live, over the WebSocket mitmweb's own UI listens on."""

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from tornado.websocket import WebSocketClientConnection, websocket_connect

Flow = dict[str, Any]  # a flow as mitmweb shows it (the shape of GET /flows)


class FlowUpdates:
    """The flows mitmweb announces (added or updated), from the moment of connecting."""

    def __init__(self, connection: WebSocketClientConnection) -> None:
        self._connection = connection

    async def until(self, ready: Callable[[Flow], bool]) -> Flow:
        """The first flow announced from now on for which `ready` holds."""
        while True:
            message = await self._connection.read_message()
            if message is None:
                raise AssertionError("the inspector closed its update stream")
            update = json.loads(message)
            if update.get("type") in ("flows/add", "flows/update"):
                flow = update["payload"]["flow"]
                if ready(flow):
                    return flow


@asynccontextmanager
async def flow_updates(base: str, token: str) -> AsyncIterator[FlowUpdates]:
    """Connect to the UI at `base` before the flows to watch for are sent.

    mitmweb registers the connection before it answers the handshake, so nothing announced
    after this returns is missed.
    """
    url = "ws" + base.removeprefix("http") + f"/updates?token={token}"
    connection = await websocket_connect(url)
    try:
        yield FlowUpdates(connection)
    finally:
        connection.close()
