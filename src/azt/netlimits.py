"""Limits on what one client connection may cost the gateway, without mitmproxy or uvicorn.

The listeners' accept queues, the size of a request head, and how long a connection may sit
without a request. `azt.addons.connlimits` applies them to mitmproxy's listeners and
`azt.loopback` to the pool's server.
"""

from pathlib import Path

# Connections the kernel completes and queues before the gateway accepts them. asyncio's
# default of 100 drops connections when a burst of clients (2,000 streams opened at once)
# arrives faster than one event loop accepts them.
LISTEN_BACKLOG = 4096

_SOMAXCONN = Path("/proc/sys/net/core/somaxconn")


def listen_backlog(requested: int = LISTEN_BACKLOG) -> int:
    """The accept queue to ask for: `requested`, capped at the kernel's `somaxconn`.

    The kernel caps a larger value itself; reading the cap (where Linux shows it) keeps the
    number azt reports the one it gets.
    """
    try:
        cap = int(_SOMAXCONN.read_text())
    except (OSError, ValueError):
        return requested
    return min(requested, cap) if cap > 0 else requested
