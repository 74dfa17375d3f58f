"""The pool's server bounds request heads and the time to send them, as the listeners do."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from azt.loopback import LoopbackServer
from azt.netlimits import HeadLimits
from support.wire import closed_by_server, read_reply, unfinished_head

LIMITS = HeadLimits(head_bytes=2048, header_timeout=0.3, idle_timeout=0.3)


async def echo_size(request: Request) -> JSONResponse:
    return JSONResponse({"received": len(await request.body())})


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    app = Starlette(routes=[Route("/", echo_size, methods=["GET", "POST"])])
    async with LoopbackServer(app, limits=LIMITS) as running:
        yield running


async def connect(server: LoopbackServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(server.host, server.port)


async def test_an_unfinished_head_over_the_limit_is_answered_431(server: LoopbackServer) -> None:
    reader, writer = await connect(server)
    writer.write(unfinished_head(LIMITS.head_bytes + 100, target=b"/"))
    reply = await read_reply(reader)
    assert reply.status == 431
    assert reply.json()["error"]["code"] == "request_header_too_large"
    assert await closed_by_server(reader)
    writer.close()


async def test_a_body_is_not_counted_as_head(server: LoopbackServer) -> None:
    reader, writer = await connect(server)
    body = b"x" * (64 * 1024)
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n" % len(body)
    head += b"X-Padding: " + b"a" * (LIMITS.head_bytes - len(head) - 20) + b"\r\n\r\n"
    assert len(head) <= LIMITS.head_bytes
    writer.write(head + body)  # one write: the head and the body arrive together
    reply = await read_reply(reader)
    assert (reply.status, reply.json()) == (200, {"received": len(body)})
    writer.close()


async def test_a_silent_connection_is_closed(server: LoopbackServer) -> None:
    reader, writer = await connect(server)
    assert await closed_by_server(reader)
    writer.close()


async def test_an_unfinished_head_is_closed_when_its_time_is_up(server: LoopbackServer) -> None:
    reader, writer = await connect(server)
    writer.write(unfinished_head(10, target=b"/"))
    assert await closed_by_server(reader)
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed(server: LoopbackServer) -> None:
    reader, writer = await connect(server)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await read_reply(reader)).status == 200
    assert await closed_by_server(reader)
    writer.close()
