"""What one client connection may cost the gateway: the size of its request heads, and how
long it may stay open without one. On every listener, in every way a request can reach it."""

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from support.rig import Rig
from support.sim import Hold, after_event
from support.sse import events_of
from support.wire import closed_by_server, read_reply, unfinished_head

LIMIT = 2 * 1024
SMALL_HEADS = {"header_limit_kb": LIMIT // 1024, "socks_port": 0}
# Timeouts short enough to run out during a test, long enough for a TLS handshake.
SHORT_TIMES = {"header_timeout_seconds": 0.5, "idle_timeout_seconds": 0.5, "socks_port": 0}
STREAM = {"model": "gpt-5.4", "input": "Reply with PONG", "store": False, "stream": True}


def assert_head_refused(reply_status: int, body: dict[str, object]) -> None:
    assert reply_status == 431
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "request_header_too_large"
    assert error["type"] == "invalid_request_error"
    assert set(error) >= {"message", "type", "param", "code"}
    assert body["detail"] == error["message"]


async def connect(
    address: tuple[str, int] | None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert address is not None
    return await asyncio.open_connection(*address)


async def tunnel(
    rig: Rig, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A CONNECT tunnel through the proxy listener, answered and open."""
    reader, writer = await connect(rig.listeners.proxy)
    writer.write(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    return reader, writer


async def socks_tunnel(
    rig: Rig, host: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await connect(rig.listeners.socks)
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    name = host.encode()
    writer.write(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + port.to_bytes(2, "big"))
    reply = await reader.readexactly(10)
    assert reply[1] == 0, reply
    return reader, writer


# Request heads over the limit.


@pytest.mark.parametrize("gateway_settings", [SMALL_HEADS])
async def test_an_unfinished_head_over_the_limit_is_answered_431_and_closed(rig: Rig) -> None:
    reader, writer = await connect(rig.listeners.reverse)
    # No blank line ever comes: the gateway must refuse from what it holds, not wait for more.
    writer.write(unfinished_head(LIMIT + 100))
    reply = await read_reply(reader)
    assert_head_refused(reply.status, reply.json())
    assert reply.headers["connection"] == "close"
    assert await closed_by_server(reader)
    writer.close()


@pytest.mark.parametrize("gateway_settings", [SMALL_HEADS])
async def test_a_complete_head_over_the_limit_is_answered_431(rig: Rig) -> None:
    reader, writer = await connect(rig.listeners.reverse)
    writer.write(unfinished_head(LIMIT) + b"\r\n\r\n")
    reply = await read_reply(reader)
    assert_head_refused(reply.status, reply.json())
    assert await closed_by_server(reader)
    writer.close()
    # A head within the limit is served as before.
    assert (await rig.client.get("/v1/models")).status_code == 200


@pytest.mark.parametrize("gateway_settings", [SMALL_HEADS])
async def test_the_proxy_listener_refuses_big_heads_in_plain_http(rig: Rig) -> None:
    reader, writer = await connect(rig.listeners.proxy)
    writer.write(unfinished_head(LIMIT + 100, target=b"http://api.openai.com/v1/models"))
    reply = await read_reply(reader)
    assert_head_refused(reply.status, reply.json())
    writer.close()


@pytest.mark.parametrize("gateway_settings", [SMALL_HEADS])
@pytest.mark.parametrize("via", ["connect", "socks"])
async def test_big_heads_are_refused_inside_intercepted_tls(
    rig: Rig, certs_dir: Path, via: str
) -> None:
    open_tunnel = tunnel if via == "connect" else socks_tunnel
    reader, writer = await open_tunnel(rig, "api.openai.com", 443)
    context = ssl.create_default_context(cafile=certs_dir / "mitmproxy-ca-cert.pem")
    context.set_alpn_protocols(["http/1.1"])
    await writer.start_tls(context, server_hostname="api.openai.com")
    writer.write(unfinished_head(LIMIT + 100))
    reply = await read_reply(reader)
    assert_head_refused(reply.status, reply.json())
    writer.close()


# Connections that do not finish a request head in time, and idle ones.


@pytest.mark.parametrize("gateway_settings", [SHORT_TIMES])
@pytest.mark.parametrize("listener", ["reverse", "proxy", "socks"])
async def test_a_silent_connection_is_closed(rig: Rig, listener: str) -> None:
    reader, writer = await connect(getattr(rig.listeners, listener))
    assert await closed_by_server(reader)
    writer.close()


@pytest.mark.parametrize("gateway_settings", [SHORT_TIMES])
async def test_an_unfinished_head_is_closed_when_its_time_is_up(rig: Rig) -> None:
    reader, writer = await connect(rig.listeners.reverse)
    writer.write(unfinished_head(10))
    assert await closed_by_server(reader)
    writer.close()


@pytest.mark.parametrize("gateway_settings", [SHORT_TIMES])
async def test_a_tunnel_that_sends_no_request_is_closed(rig: Rig) -> None:
    reader, writer = await tunnel(rig, "api.openai.com", 443)
    assert await closed_by_server(reader)
    writer.close()


@pytest.mark.parametrize("gateway_settings", [SHORT_TIMES])
async def test_an_idle_keep_alive_connection_is_closed(rig: Rig) -> None:
    reader, writer = await connect(rig.listeners.reverse)
    writer.write(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await read_reply(reader)).status == 200
    assert await closed_by_server(reader)
    writer.close()


async def timeouts_have_run_out(rig: Rig) -> None:
    """Returns once both timeouts have run out on connections opened now."""
    silent, silent_writer = await connect(rig.listeners.reverse)
    idle, idle_writer = await connect(rig.listeners.reverse)
    idle_writer.write(b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert (await read_reply(idle)).status == 200
    assert await closed_by_server(silent)
    assert await closed_by_server(idle)
    silent_writer.close()
    idle_writer.close()


@pytest.mark.parametrize("gateway_settings", [SHORT_TIMES])
async def test_a_request_in_flight_outlives_both_timeouts(rig: Rig) -> None:
    rig.add_account()
    hold = Hold.on(rig.sim, after_event(rig.sim, "response.output_item.added"))
    received: list[bytes] = []
    async with httpx.AsyncClient(base_url=rig.base_url, timeout=30) as client:
        async with client.stream("POST", "/codex/v1/responses", json=STREAM) as response:
            chunks = response.aiter_raw()
            received.append(await anext(chunks))
            await hold.holding.wait()  # the stream is open and nothing moves on it
            await timeouts_have_run_out(rig)
            hold.release()
            received.extend([chunk async for chunk in chunks])
    assert events_of(b"".join(received))[-1]["type"] == "response.completed"


@pytest.fixture
async def plain_origin() -> AsyncIterator[
    tuple[int, asyncio.Queue[tuple[bytes, asyncio.StreamWriter]]]
]:
    """A TCP server that reports the first bytes of each connection and leaves it open."""
    arrived: asyncio.Queue[tuple[bytes, asyncio.StreamWriter]] = asyncio.Queue()

    async def hold_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await arrived.put((await reader.read(65536), writer))
        await reader.read()  # until the tunnel closes

    server = await asyncio.start_server(hold_open, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], arrived
    finally:
        server.close()


def client_hello(server_name: str) -> bytes:
    """The first flight of a TLS client for `server_name`."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("gateway_settings", [SHORT_TIMES])
async def test_a_passed_through_tunnel_outlives_both_timeouts(
    rig: Rig, plain_origin: tuple[int, asyncio.Queue[tuple[bytes, asyncio.StreamWriter]]]
) -> None:
    port, arrived = plain_origin
    reader, writer = await tunnel(rig, "localhost", port)
    hello = client_hello("localhost")  # not an intercepted host: passed through untouched
    writer.write(hello)
    first, origin = await arrived.get()
    assert first == hello
    await timeouts_have_run_out(rig)
    origin.write(b"still open")
    assert await reader.readexactly(10) == b"still open"
    writer.close()
    origin.close()


@pytest.mark.parametrize("gateway_settings", [SMALL_HEADS])
async def test_big_heads_over_http2_are_answered_431(rig: Rig, certs_dir: Path) -> None:
    # curl offers h2 first (httpx offers HTTP/1.1 first, which mitmproxy then picks).
    process = await asyncio.create_subprocess_exec(  # noqa: TID251
        "curl",
        "-sS",
        "--http2",
        "--proxy",
        str(rig.listeners.proxy_url),
        "--cacert",
        str(certs_dir / "mitmproxy-ca-cert.pem"),
        "-H",
        "x-padding: " + "a" * LIMIT,
        "-w",
        "\n%{http_version} %{http_code}",
        "https://api.openai.com/v1/models",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err
    body, _, outcome = out.decode().rpartition("\n")
    assert outcome == "2 431"
    assert_head_refused(431, json.loads(body))
