"""A gateway listening on every address, used by a client on another machine: the proxy never
relays it to this host's loopback, link-local addresses or the gateway itself."""

import asyncio
import ipaddress
import json
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from support.netns import OtherMachine, other_machine, unavailable
from support.rig import Rig
from support.wire import request, send

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    return {"host": "0.0.0.0", "socks_port": 0}


@pytest.fixture
def machine() -> Iterator[OtherMachine]:
    with other_machine() as made:
        yield made


@pytest.fixture
async def loopback_service() -> AsyncIterator[int]:
    """A service on this host's loopback only (a database, a dev server, an admin UI)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def error_code(out: str) -> str:
    return json.loads(out)["error"]["code"]


async def test_another_machine_cannot_reach_loopback_through_the_proxy(
    rig: Rig, machine: OtherMachine, loopback_service: int
) -> None:
    assert rig.listeners.proxy and rig.listeners.socks
    proxy = f"http://{machine.host_address}:{rig.listeners.proxy[1]}"
    socks = f"socks5h://{machine.host_address}:{rig.listeners.socks[1]}"
    for target in (
        f"http://127.0.0.1:{loopback_service}/",
        f"http://localhost:{loopback_service}/",
        f"http://[::ffff:127.0.0.1]:{loopback_service}/",
        f"http://0.0.0.0:{loopback_service}/",
        "http://169.254.169.254/latest/meta-data/",
    ):
        for via in (proxy, socks):
            code, out, err = await machine.run("curl", "-sS", "--proxy", via, target)
            assert code == 0, err
            assert error_code(out) == "destination_not_allowed", (via, target, out)
    # A CONNECT tunnel is refused outright.
    code, out, err = await machine.run(
        "curl", "-sS", "-p", "--proxy", proxy, f"http://127.0.0.1:{loopback_service}/"
    )
    assert code != 0 and "403" in err
    # This host's own clients keep their access to local services.
    reply = await send(
        rig.listeners.proxy[1],
        request("GET", f"http://127.0.0.1:{loopback_service}/", f"127.0.0.1:{loopback_service}"),
    )
    assert (reply.status, reply.body) == (200, b"secret")


# Sends `count` requests on one connection to the proxy, for `target` (host:port), and prints
# the bodies.
KEEP_ALIVE_CLIENT = """
import socket, sys
proxy, port, target, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
with socket.create_connection((proxy, port)) as conn:
    reader = conn.makefile("rb")
    for n in range(count):
        conn.sendall(f"GET http://{target}/{n} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n".encode())
        length = 0
        while (line := reader.readline()) not in (b"\\r\\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        sys.stdout.write(reader.read(length).decode())
"""


async def test_another_machines_keep_alive_requests_reuse_the_checked_connection(
    rig: Rig, machine: OtherMachine
) -> None:
    """Connections dialled at a checked address are reused as usual: many requests on one
    connection for a name (here this host's address in decimal, which only the resolver
    reads) all get through on one upstream connection."""
    connections: list[asyncio.StreamWriter] = []

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(keep_alive, machine.host_address, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        assert rig.listeners.proxy
        name = str(int(ipaddress.IPv4Address(machine.host_address)))
        code, out, err = await machine.run(
            sys.executable,
            "-c",
            KEEP_ALIVE_CLIENT,
            machine.host_address,
            str(rig.listeners.proxy[1]),
            f"{name}:{port}",
            "8",
        )
        assert (code, out) == (0, "ok" * 8), err
        assert len(connections) == 1
    finally:
        server.close()
        for writer in connections:
            writer.close()


async def test_another_machine_cannot_loop_the_proxy_through_this_hosts_address(
    rig: Rig, machine: OtherMachine
) -> None:
    assert rig.listeners.proxy
    proxy = f"http://{machine.host_address}:{rig.listeners.proxy[1]}"
    for port in (rig.listeners.reverse[1], rig.listeners.proxy[1]):
        target = f"http://{machine.host_address}:{port}/v1/models"
        code, out, err = await machine.run("curl", "-sS", "--proxy", proxy, target)
        assert code == 0, err
        assert error_code(out) == "proxy_loop", out
