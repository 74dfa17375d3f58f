"""Bytes on the wire: one raw HTTP exchange, a SOCKS5 handshake, an unfinished head, for
requests no client library would send (a CONNECT to any spelling, a SOCKS connect to a raw
address, a head that never ends)."""

import asyncio
import json
import socket
import ssl
import struct
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """One HTTP/1.1 response with a Content-Length (or none: then to the end)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    body = await reader.readexactly(int(length)) if length is not None else await reader.read()
    return Reply(int(status_line.split()[1]), headers, body)


async def send(port: int, request: bytes, host: str = "127.0.0.1") -> Reply:
    """Send `request` as is to `host:port` and read the reply."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        return await read_reply(reader)
    finally:
        writer.close()


def request(method: str, target: str, host: str, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def socks5_connect(
    proxy_port: int, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A SOCKS5 CONNECT through the listener on `proxy_port` (an IP literal is sent as an
    address, anything else as a name); the reader and writer of the tunnel."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    target = b"\x03" + bytes([len(host)]) + host.encode()  # a name
    for family, atyp in ((socket.AF_INET, b"\x01"), (socket.AF_INET6, b"\x04")):
        try:
            target = atyp + socket.inet_pton(family, host.strip("[]"))
        except OSError:
            continue
        break
    writer.write(b"\x05\x01\x00" + target + struct.pack("!H", port))
    reply = await reader.readexactly(10)
    assert reply[:2] == b"\x05\x00", reply
    return reader, writer


def client_hello(server_name: str) -> bytes:
    """The first flight of a TLS handshake for `server_name`."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def unfinished_head(padding: int, target: bytes = b"/v1/models") -> bytes:
    """A request line and headers, `padding` bytes of one header value, and no blank line."""
    return b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * padding


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Read until the server closes the connection; True when it did with nothing more sent."""
    return await reader.read() == b""
