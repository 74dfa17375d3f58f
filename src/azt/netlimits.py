"""Limits on what one client connection may cost the gateway, without mitmproxy or uvicorn.

The listeners' accept queues, the size of a request head, and how long a connection may go
without a request. `azt.addons.connlimits` applies them to mitmproxy's listeners and
`azt.loopback` to the pool's server; both answer an oversized head with the same 431.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from azt.config import KiB, Settings
from azt.errors import ApiError

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


@dataclass(frozen=True)
class HeadLimits:
    """How big a request head may be, and how long a connection may go without one."""

    head_bytes: int = 64 * KiB
    header_timeout: float = 30.0  # seconds to finish a head, from connecting or its first byte
    idle_timeout: float = 75.0  # seconds with no request in flight

    def widened(self, head_bytes: int, seconds: float) -> "HeadLimits":
        """Limits a little looser than these, for a hop behind them (the pool behind the
        listeners), so a request the listeners admit is never refused on the hop."""
        return HeadLimits(
            self.head_bytes + head_bytes, self.header_timeout, self.idle_timeout + seconds
        )


def head_limits(settings: Settings) -> HeadLimits:
    """The limits of the gateway's listeners."""
    return HeadLimits(
        head_bytes=settings.header_limit,
        header_timeout=settings.header_timeout_seconds,
        idle_timeout=settings.idle_timeout_seconds,
    )


def pool_limits(settings: Settings) -> HeadLimits:
    """The pool's server takes what the listeners admit, plus the headers the gateway adds;
    it keeps an idle connection open longer than the listeners do, so that a connection the
    gateway still reuses is never closed under it."""
    return head_limits(settings).widened(head_bytes=16 * KiB, seconds=30.0)


def head_too_large(limit: int) -> ApiError:
    return ApiError(
        431,
        f"The request line and headers are larger than the {limit // KiB} KiB this gateway "
        "accepts.",
        code="request_header_too_large",
    )


def head_too_large_response(limit: int) -> bytes:
    """The whole HTTP/1.1 431 answer, for a server that refuses before it has a request."""
    body = head_too_large(limit).body_bytes()
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"content-length: %d\r\n"
        b"connection: close\r\n"
        b"\r\n%s" % (len(body), body)
    )


def head_size(method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The size of a request head as HTTP/1.1 sends it: request line, headers, blank line."""
    size = len(method) + 1 + len(target) + len(b" HTTP/1.1\r\n") + 2
    for name, value in headers:
        size += len(name) + 2 + len(value) + 2
    return size


class Phase(Enum):
    """Where a client connection stands, as far as its timeouts go."""

    AWAITING_HEAD = "awaiting a request head"  # header_timeout runs
    IN_FLIGHT = "serving"  # a request is being read or answered: no timeout
    IDLE = "idle"  # idle_timeout runs
    UNWATCHED = "passed through"  # a tunnel azt does not serve: no timeout of azt's


@dataclass
class ConnectionWatch:
    """The timeout that applies to one client connection, as its requests come and go.

    Each event returns whether the phase changed (the caller then restarts its timer with
    `timeout()`).
    """

    limits: HeadLimits
    phase: Phase = Phase.AWAITING_HEAD
    _flows: set[str] = field(default_factory=set)

    def timeout(self) -> float | None:
        if self.phase is Phase.AWAITING_HEAD:
            return self.limits.header_timeout
        if self.phase is Phase.IDLE:
            return self.limits.idle_timeout
        return None

    def _enter(self, phase: Phase) -> bool:
        if self.phase is Phase.UNWATCHED or self.phase is phase:
            return False
        self.phase = phase
        return True

    def head_started(self) -> bool:
        """The first byte of a request head arrived."""
        return self.phase is Phase.IDLE and self._enter(Phase.AWAITING_HEAD)

    def flow_started(self, flow_id: str) -> bool:
        """A request head is complete (or a WebSocket opened): the client is being served."""
        if self.phase is Phase.UNWATCHED:
            return False
        self._flows.add(flow_id)
        return self._enter(Phase.IN_FLIGHT)

    def flow_ended(self, flow_id: str) -> bool:
        self._flows.discard(flow_id)
        return not self._flows and self.phase is Phase.IN_FLIGHT and self._enter(Phase.IDLE)

    def tunnel_opened(self, connect_flow_id: str) -> bool:
        """A CONNECT was answered: the tunnel's first request head is awaited."""
        self._flows.discard(connect_flow_id)
        return not self._flows and self._enter(Phase.AWAITING_HEAD)

    def passed_through(self) -> bool:
        """The connection became a tunnel to a host azt does not serve."""
        if self.phase is Phase.UNWATCHED:
            return False
        self.phase = Phase.UNWATCHED
        return True
