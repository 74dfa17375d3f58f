"""The proxy listeners never relay a client to the gateway itself, however it is spelt."""

import asyncio
from urllib.parse import urlsplit

import pytest

from support.rig import Rig
from support.wire import client_hello, read_reply, request, send, socks5_connect


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    return {"socks_port": 0}


# Spellings of this host that mitmproxy's own guard (a few fixed strings) lets through.
SPELLINGS = [
    "LOCALHOST",
    "localhost.",
    "[::ffff:127.0.0.1]",
    "127.0.0.2",
    "2130706433",
    "0x7f.0.0.1",
    "127.1",
    "0.0.0.0",
]


def ports(rig: Rig) -> dict[str, int]:
    """Every port of the gateway: its three listeners and the account pool."""
    assert rig.listeners.proxy and rig.listeners.socks and rig.gateway
    return {
        "reverse": rig.listeners.reverse[1],
        "proxy": rig.listeners.proxy[1],
        "socks": rig.listeners.socks[1],
        "pool": int(urlsplit(rig.gateway.pool_url).port or 0),
    }


def assert_loop_refused(status: int, body: object) -> None:
    assert status == 508, body
    assert isinstance(body, dict) and body["error"]["code"] == "proxy_loop"


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_plain_http_requests_for_the_gateway_are_refused(rig: Rig, spelling: str) -> None:
    proxy = ports(rig)["proxy"]
    for name, port in ports(rig).items():
        target = f"{spelling}:{port}"
        reply = await send(proxy, request("GET", f"http://{target}/v1/models", target))
        assert_loop_refused(reply.status, reply.json())
        assert target in reply.json()["error"]["message"], name


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_origin_form_requests_naming_the_proxy_are_refused(rig: Rig, spelling: str) -> None:
    """The classic self-loop: a request to the proxy whose Host names the proxy."""
    proxy = ports(rig)["proxy"]
    reply = await send(proxy, request("GET", "/", f"{spelling}:{proxy}"))
    assert_loop_refused(reply.status, reply.json())


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_connect_to_the_gateway_is_refused(rig: Rig, spelling: str) -> None:
    proxy = ports(rig)["proxy"]
    for port in ports(rig).values():
        target = f"{spelling}:{port}"
        reply = await send(proxy, request("CONNECT", target, target))
        assert_loop_refused(reply.status, reply.json())


@pytest.mark.parametrize("spelling", ["LOCALHOST", "127.0.0.2", "[::ffff:127.0.0.1]", "0.0.0.0"])
async def test_socks_tunnels_to_the_gateway_are_refused(rig: Rig, spelling: str) -> None:
    socks = ports(rig)["socks"]
    for port in ports(rig).values():
        # HTTP inside the tunnel: an answer in OpenAI shape.
        reader, writer = await socks5_connect(socks, spelling, port)
        writer.write(request("GET", "/v1/models", "example.com"))
        reply = await read_reply(reader)
        writer.close()
        assert_loop_refused(reply.status, reply.json())
        # Anything else (TLS that is not intercepted): the tunnel closes, nothing was relayed.
        reader, writer = await socks5_connect(socks, spelling, port)
        writer.write(client_hello("example.com"))
        assert await reader.read() == b""
        writer.close()


async def test_other_local_services_stay_reachable(rig: Rig) -> None:
    """A client on this machine still reaches local services that are not the gateway."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nlocal")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        proxy = ports(rig)["proxy"]
        for spelling in ("localhost", "LOCALHOST", "127.0.0.1", "[::ffff:127.0.0.1]"):
            target = f"{spelling}:{port}"
            reply = await send(proxy, request("GET", f"http://{target}/", target))
            assert (reply.status, reply.body) == (200, b"local"), spelling
    finally:
        server.close()
        await server.wait_closed()
