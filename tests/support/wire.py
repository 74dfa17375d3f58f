"""Raw HTTP/1.1 on a socket, for tests about what a connection may do before its request."""

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """One response with a content-length, as the server sends it."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Reply(int(status_line.split()[1]), headers, body)


def unfinished_head(padding: int, target: bytes = b"/v1/models") -> bytes:
    """A request line and headers, `padding` bytes of one header value, and no blank line."""
    return b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * padding


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Read until the server closes the connection; True when it did with nothing more sent."""
    return await reader.read() == b""
