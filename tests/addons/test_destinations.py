from ipaddress import ip_address
from types import SimpleNamespace

import pytest
from mitmproxy.connection import ConnectionState
from mitmproxy.proxy import server_hooks
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import tflow

from azt.addons.destinations import DestinationGuard
from azt.addons.flowstate import open_exchange
from azt.addons.scope import Scope
from azt.config import Settings
from azt.destinations import Listener
from azt.netaddr import Resolver

REGULAR = ProxyMode.parse("regular@8788")
SOCKS = ProxyMode.parse("socks5@1080")
POOL_PORT = 40000

LOCAL_PEER = (("127.0.0.1", 51000), ("127.0.0.1", 8788))
REMOTE_PEER = (("192.0.2.9", 51000), ("192.0.2.5", 8788))  # another machine on the LAN


class Lookups:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("Name or service not known")
        return self.answers[host]


@pytest.fixture
def lookups() -> Lookups:
    return Lookups(
        {
            "example.com": ["93.184.216.34"],
            "sneaky.example": ["127.0.0.1"],
            "2130706433": ["127.0.0.1"],
        }
    )


@pytest.fixture
def guard(lookups: Lookups) -> DestinationGuard:
    guard = DestinationGuard(
        Scope(Settings()).intercepts,
        POOL_PORT,
        resolver=Resolver(lookups),
        own=lambda ip: ip.is_loopback or ip == ip_address("192.0.2.5"),
    )
    guard.listening(
        [
            Listener(ip_address("0.0.0.0"), 8787),
            Listener(ip_address("0.0.0.0"), 8788),
            Listener(ip_address("0.0.0.0"), 1080),
        ]
    )
    return guard


def proxy_flow(host: str, port: int, peer=LOCAL_PEER, method: str = "GET", mode=REGULAR):
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = mode
    flow.client_conn.peername, flow.client_conn.sockname = peer
    flow.request.method = method
    flow.request.host, flow.request.port = host, port
    return flow


def code(flow) -> str | None:
    return flow.response.json()["error"]["code"] if flow.response else None


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("LOCALHOST", 8788),
        ("localhost.", 8787),
        ("::ffff:127.0.0.1", 1080),
        ("127.0.0.2", POOL_PORT),
        ("0.0.0.0", 8788),
        ("192.0.2.5", 8788),  # this machine's LAN address: the wildcard listener
        ("sneaky.example", 8787),
        ("2130706433", 8788),
    ],
)
async def test_requests_for_the_gateway_itself_are_refused(guard, host: str, port: int) -> None:
    for peer in (LOCAL_PEER, REMOTE_PEER):
        for mode in (REGULAR, SOCKS):
            flow = proxy_flow(host, port, peer, mode=mode)
            await guard.requestheaders(flow)
            assert flow.response.status_code == 508 and code(flow) == "proxy_loop"
        connect = proxy_flow(host, port, peer, method="CONNECT")
        await guard.http_connect(connect)
        assert connect.response.status_code == 508


@pytest.mark.parametrize(
    ("host", "port"),
    [("127.0.0.1", 3000), ("sneaky.example", 22), ("::1", 5432), ("169.254.169.254", 80)],
)
async def test_other_machines_do_not_reach_local_only_addresses(guard, host, port) -> None:
    flow = proxy_flow(host, port, REMOTE_PEER)
    await guard.requestheaders(flow)
    assert flow.response.status_code == 403 and code(flow) == "destination_not_allowed"
    connect = proxy_flow(host, port, REMOTE_PEER, method="CONNECT")
    await guard.http_connect(connect)
    assert connect.response.status_code == 403
    # This machine's own clients keep reaching them.
    local = proxy_flow(host, port, LOCAL_PEER)
    await guard.requestheaders(local)
    assert local.response is None


async def test_public_destinations_pass(guard) -> None:
    for peer in (LOCAL_PEER, REMOTE_PEER):
        flow = proxy_flow("example.com", 80, peer)
        await guard.requestheaders(flow)
        assert flow.response is None


async def test_flows_azt_serves_are_not_resolved(guard, lookups) -> None:
    intercepted = proxy_flow("api.openai.com", 443)
    open_exchange(intercepted, intercepted_host="api.openai.com")
    await guard.requestheaders(intercepted)
    connect = proxy_flow("api.openai.com", 443, method="CONNECT")
    await guard.http_connect(connect)
    reverse = proxy_flow("127.0.0.1", 8787, mode=ProxyMode.parse("reverse:http://x@8787"))
    await guard.requestheaders(reverse)
    assert not (intercepted.response or connect.response or reverse.response)
    assert lookups.asked == []


def connecting(host: str, port: int, peer=LOCAL_PEER, mode=REGULAR):
    client = tflow.tclient_conn()
    client.proxy_mode = mode
    client.peername, client.sockname = peer
    server = tflow.tserver_conn()
    server.address = (host, port)
    server.error = None
    return server_hooks.ServerConnectionHookData(server=server, client=client)


async def test_connections_to_the_gateway_are_not_opened(guard) -> None:
    for host, port in [("LOCALHOST", 8788), ("::ffff:127.0.0.1", 1080), ("0.0.0.0", POOL_PORT)]:
        data = connecting(host, port, mode=SOCKS)
        await guard.server_connect(data)
        assert data.server.error and "own listener" in data.server.error


async def test_connections_for_other_machines_are_pinned_to_the_checked_address(guard) -> None:
    remote = connecting("example.com", 443, REMOTE_PEER)
    await guard.server_connect(remote)
    assert remote.server.error is None and remote.server.address == ("93.184.216.34", 443)
    remote.server.state = ConnectionState.OPEN
    guard.server_connected(remote)  # dialled: the name is back, so mitmproxy can reuse it
    assert remote.server.address == ("example.com", 443)
    local = connecting("example.com", 443)
    await guard.server_connect(local)
    assert local.server.error is None and local.server.address == ("example.com", 443)
    for host in ("sneaky.example", "127.0.0.1", "nowhere.invalid"):
        refused = connecting(host, 3000, REMOTE_PEER)
        await guard.server_connect(refused)
        assert refused.server.error, host


async def test_the_pool_is_reached_only_by_flows_azt_hands_over(guard) -> None:
    handed_over = connecting("127.0.0.1", POOL_PORT)
    await guard.server_connect(handed_over)
    assert handed_over.server.error is None
    # The same address named by a client in a SOCKS handshake or a CONNECT is refused.
    named = connecting("127.0.0.1", POOL_PORT, mode=SOCKS)
    guard.next_layer(
        SimpleNamespace(context=SimpleNamespace(server=named.server, client=named.client))
    )  # type: ignore[arg-type]
    await guard.server_connect(named)
    assert named.server.error


async def test_a_connection_from_the_gateways_own_socket_is_a_loop(guard) -> None:
    """Whatever a name resolved to when it was checked, the second hop of a loop is refused."""
    outbound = connecting("rebinding.example", 8788)
    outbound.server.sockname = ("127.0.0.1", 52345)
    guard.server_connected(outbound)
    looped = proxy_flow("example.com", 80, (("127.0.0.1", 52345), ("127.0.0.1", 8788)))
    await guard.requestheaders(looped)
    assert looped.response.status_code == 508
    tunnel = connecting("example.com", 443, (("127.0.0.1", 52345), ("127.0.0.1", 8788)))
    await guard.server_connect(tunnel)
    assert tunnel.server.error
    guard.server_disconnected(outbound)
    after = proxy_flow("example.com", 80, (("127.0.0.1", 52345), ("127.0.0.1", 8788)))
    await guard.requestheaders(after)
    assert after.response is None


class BrokenResolver(Resolver):
    async def resolve(self, host: str, port: int):  # type: ignore[override]
        raise RuntimeError("a bug")


async def test_a_failed_check_connects_nothing() -> None:
    """Fail closed: an error while checking refuses the request or the connection."""
    guard = DestinationGuard(lambda host: False, POOL_PORT, resolver=BrokenResolver())
    flow = proxy_flow("example.com", 80)
    await guard.requestheaders(flow)
    assert flow.response.status_code == 500
    data = connecting("example.com", 443)
    await guard.server_connect(data)
    assert data.server.error
