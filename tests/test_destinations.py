import subprocess
import sys
from ipaddress import ip_address

import pytest

from azt.destinations import Listener, Refusal, client_is_local, is_gateway, refusal

OWN = {ip_address("192.0.2.5"), ip_address("198.51.100.7"), ip_address("2001:db8::5")}


def own(ip) -> bool:
    return ip.is_loopback or ip.is_unspecified or ip in OWN


LISTENERS = (
    Listener(ip_address("127.0.0.1"), 8787),  # reverse, on loopback
    Listener(ip_address("0.0.0.0"), 8788),  # proxy, on every address
    Listener(ip_address("::"), 8788),
    Listener(ip_address("192.0.2.5"), 1080),  # socks, on one address
    Listener(ip_address("127.0.0.1"), 40000),  # the account pool
)


@pytest.mark.parametrize(
    ("address", "port", "expected"),
    [
        ("127.0.0.1", 8787, True),
        ("127.5.6.7", 8787, True),  # any 127/8 for a loopback listener
        ("::1", 8787, True),
        ("::ffff:127.0.0.1", 8787, True),
        ("::127.0.0.1", 8787, True),  # IPv4-compatible
        ("0.0.0.0", 8787, True),
        ("::", 40000, True),
        ("127.0.0.1", 40000, True),
        ("198.51.100.7", 8788, True),  # an address of this machine, wildcard listener
        ("2001:db8::5", 8788, True),
        ("::ffff:198.51.100.7", 8788, True),
        ("127.0.0.1", 8788, True),
        ("203.0.113.1", 8788, False),  # another machine
        ("192.0.2.5", 1080, True),
        ("0.0.0.0", 1080, True),
        ("127.0.0.1", 1080, False),  # that listener is bound to 192.0.2.5 only
        ("198.51.100.7", 1080, False),
        ("192.0.2.5", 8787, False),  # the reverse listener is on loopback only
        ("127.0.0.1", 3000, False),  # not a port of the gateway
    ],
)
def test_is_gateway(address: str, port: int, expected: bool) -> None:
    assert is_gateway(ip_address(address), port, LISTENERS, own) is expected


@pytest.mark.parametrize(
    ("addresses", "port", "local", "expected"),
    [
        (["127.0.0.1"], 8787, True, Refusal.LOOP),
        (["127.0.0.1"], 8787, False, Refusal.LOOP),
        (["93.184.216.34", "::1"], 8787, True, Refusal.LOOP),  # any address of the name
        (["127.0.0.1"], 3000, True, None),  # local clients reach local services
        (["127.0.0.1"], 3000, False, Refusal.LOCAL),
        (["127.9.9.9"], 3000, False, Refusal.LOCAL),
        (["::1"], 3000, False, Refusal.LOCAL),
        (["::ffff:127.0.0.1"], 3000, False, Refusal.LOCAL),
        (["0.0.0.0"], 3000, False, Refusal.LOCAL),
        (["::"], 3000, False, Refusal.LOCAL),
        (["169.254.169.254"], 80, False, Refusal.LOCAL),  # cloud metadata
        (["169.254.169.254"], 80, True, None),
        (["fe80::1"], 80, False, Refusal.LOCAL),
        (["::ffff:169.254.1.1"], 80, False, Refusal.LOCAL),
        (["93.184.216.34", "127.0.0.1"], 443, False, Refusal.LOCAL),
        (["93.184.216.34"], 443, False, None),
        (["192.0.2.5"], 5432, False, None),  # this machine's LAN address, not a listener
        ([], 443, False, None),  # unresolved: the connection decides (and is refused there)
    ],
)
def test_refusal(addresses: list[str], port: int, local: bool, expected: Refusal | None) -> None:
    ips = [ip_address(a) for a in addresses]
    assert refusal(ips, port, client_local=local, listeners=LISTENERS, own=own) is expected


@pytest.mark.parametrize(
    ("peer", "arrived_on", "expected"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.0.1", None, True),
        ("::1", "::1", True),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True),
        ("192.0.2.5", "192.0.2.5", True),  # this machine, through its own LAN address
        ("::ffff:192.0.2.5", "192.0.2.5", True),
        ("192.0.2.9", "192.0.2.5", False),
        ("10.0.0.2", None, False),
        (None, "192.0.2.5", False),
    ],
)
def test_client_is_local(peer: str | None, arrived_on: str | None, expected: bool) -> None:
    as_ip = lambda text: ip_address(text) if text else None  # noqa: E731
    assert client_is_local(as_ip(peer), as_ip(arrived_on)) is expected


def test_the_rules_are_pure() -> None:
    """The destination, address and site rules load without mitmproxy or a web framework."""
    code = (
        "import sys, azt.destinations, azt.netaddr, azt.sites; "
        "print(sorted({'mitmproxy', 'httpx', 'starlette'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
