"""A raw HTTP/1.1 client for the fuzz suite: bytes out, replies parsed leniently.

Every fuzz case is sent as the exact bytes it was built as (no client library normalises a
header, a length or a path), over a fresh connection, optionally through a CONNECT tunnel
with TLS to the proxy listener. The reader parses as many replies as arrive until the
connection closes, or only the first one; it never blocks past the case's deadline, so a
request the gateway never answers shows up as `timed_out` instead of hanging the suite.
"""

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CRLF = b"\r\n"


@dataclass
class Reply:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes  # de-chunked
    head: bytes  # the status line and header block as received
    framing_error: str | None = None  # the reply itself could not be framed
    cut: bool = False  # its head arrived, its body did not end

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()


@dataclass
class Exchange:
    """What happened on one connection."""

    replies: list[Reply] = field(default_factory=list)
    timed_out: bool = False  # the deadline passed while waiting for (more of) a reply
    closed_early: bool = False  # the connection closed before a complete reply
    send_error: str | None = None  # the gateway stopped reading before everything was sent
    elapsed: float = 0.0
    trailing: bytes = b""  # bytes after the last complete reply
    unparsed: str | None = None  # why the bytes received are not an HTTP reply

    @property
    def first(self) -> Reply | None:
        return self.replies[0] if self.replies else None


class _Deadline(Exception):
    pass


class _Closed(Exception):
    pass


class _Reader:
    def __init__(self, sock: socket.socket | ssl.SSLSocket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self.buffer = b""
        self.eof = False

    def _fill(self) -> None:
        if self.eof:
            raise _Closed
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise _Deadline
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(1 << 16)
        except TimeoutError:
            raise _Deadline from None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            self.eof = True
            raise _Closed from None
        if not chunk:
            self.eof = True
            raise _Closed
        self.buffer += chunk

    def until(self, marker: bytes, limit: int = 1 << 20) -> bytes:
        while marker not in self.buffer:
            if len(self.buffer) > limit:
                raise ValueError(f"no {marker!r} within {limit} bytes")
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def rest(self) -> bytes:
        try:
            while True:
                self._fill()
        except _Closed:
            pass
        data, self.buffer = self.buffer, b""
        return data


def _parse_head(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    if not version.startswith(b"HTTP/"):
        raise ValueError(f"not a status line: {lines[0][:80]!r}")
    code, _, reason = rest.partition(b" ")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ValueError(f"not a header line: {line[:80]!r}")
        headers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
    return int(code), reason.decode("latin-1"), headers


def _read_reply(
    reader: _Reader, method: bytes, on_head: Callable[[Reply], None] = lambda reply: None
) -> Reply:
    head = reader.until(b"\r\n\r\n")
    status, reason, headers = _parse_head(head)
    reply = Reply(status, reason, headers, b"", head)
    on_head(reply)  # the caller keeps a reply whose body is then cut off
    if method == b"HEAD" or status in (204, 304) or 100 <= status < 200:
        return reply
    if method == b"CONNECT" and 200 <= status < 300:
        return reply
    encoding = (reply.header("transfer-encoding") or "").lower()
    length = reply.header("content-length")
    if "chunked" in encoding:
        body = b""
        while True:
            size_line = reader.until(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while reader.until(CRLF):  # trailers, up to the empty line
                    pass
                break
            body += reader.exactly(size)
            if reader.exactly(2) != CRLF:
                reply.framing_error = "a chunk is not followed by CRLF"
                break
        reply.body = body
    elif length is not None:
        reply.body = reader.exactly(int(length))
    else:
        reply.body = reader.rest()
    return reply


def open_connection(
    address: tuple[str, int],
    timeout: float,
    *,
    tunnel: str | None = None,
    tls: ssl.SSLContext | None = None,
    server_name: str | None = None,
) -> socket.socket | ssl.SSLSocket:
    """A connection to `address`; with `tunnel` (host:port) a CONNECT through it, then TLS."""
    sock = socket.create_connection(address, timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tunnel is None:
        return sock
    sock.sendall(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (tunnel.encode(), tunnel.encode()))
    reader = _Reader(sock, time.monotonic() + timeout)
    try:
        reply = _read_reply(reader, b"CONNECT")
    except (_Deadline, _Closed, ValueError) as e:
        sock.close()
        raise ConnectionError(f"CONNECT {tunnel}: no reply ({type(e).__name__})") from None
    if reply.status != 200:
        sock.close()
        raise ConnectionError(f"CONNECT {tunnel} answered {reply.status}")
    assert tls is not None, "a tunnel needs a TLS context"
    return tls.wrap_socket(sock, server_hostname=server_name or tunnel.rsplit(":", 1)[0])


def send(
    address: tuple[str, int],
    data: bytes,
    *,
    timeout: float,
    all_replies: bool = False,
    half_close: bool = False,
    tunnel: str | None = None,
    tls: ssl.SSLContext | None = None,
) -> Exchange:
    """Send `data` on a new connection and read the reply (or, with `all_replies`, every
    reply until the gateway closes the connection). `half_close` shuts our side for writing
    once everything is sent, so a gateway waiting for more of the request sees its end."""
    started = time.monotonic()
    deadline = started + timeout
    result = Exchange()
    try:
        sock = open_connection(address, timeout, tunnel=tunnel, tls=tls)
    except OSError as e:
        result.send_error = f"connect: {e}"
        return result
    method = data.split(b" ", 1)[0]
    try:
        try:
            sock.sendall(data)
        except OSError as e:
            result.send_error = f"{type(e).__name__}: {e}"
        if half_close and result.send_error is None:
            try:
                if isinstance(sock, ssl.SSLSocket):
                    sock.unwrap()  # close_notify, then the TCP half-close below
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        reader = _Reader(sock, deadline)
        heads: list[Reply] = []  # the reply being read, once its head has arrived
        try:
            while True:
                heads.clear()
                reply = _read_reply(reader, method, heads.append)
                if 100 <= reply.status < 200 and reply.status != 101:
                    continue  # an interim reply (100 Continue): the real one follows
                result.replies.append(reply)
                if not all_replies or reply.status == 101:
                    break
                if not reader.buffer:
                    try:
                        reader._fill()
                    except _Closed:
                        break
        except (_Deadline, _Closed, ValueError) as e:
            result.timed_out = isinstance(e, _Deadline)
            result.closed_early = isinstance(e, _Closed) and not result.replies
            cut = heads[0] if heads and heads[0] not in result.replies else None
            if cut is not None:  # its head arrived, the rest did not
                cut.cut = True
                how = "the deadline passed" if result.timed_out else "the connection closed"
                cut.framing_error = cut.framing_error or f"{how} inside the reply body"
                result.replies.append(cut)
            elif isinstance(e, ValueError):
                result.unparsed = str(e)
        result.trailing = reader.buffer
    finally:
        sock.close()
        result.elapsed = time.monotonic() - started
    return result
