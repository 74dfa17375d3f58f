from ipaddress import ip_address

import pytest

from azt.netaddr import LOOPBACK, Resolver, canonical, is_own_address, parse_ip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "127.0.0.1"),
        ("::ffff:7f00:1", "127.0.0.1"),
        ("::127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::", "::"),
        ("fe80::1%eth0", "fe80::1%eth0"),
        ("localhost", None),
        ("2130706433", None),  # not standard notation: the resolver reads it
        ("", None),
    ],
)
def test_parse_ip(text: str, expected: str | None) -> None:
    parsed = parse_ip(text)
    assert (str(parsed) if parsed is not None else None) == expected


def test_canonical_keeps_plain_addresses() -> None:
    for text in ("10.1.2.3", "2001:db8::1", "::1", "::"):
        assert canonical(ip_address(text)) == ip_address(text)


def test_own_addresses() -> None:
    assert is_own_address(ip_address("127.0.0.1")) and is_own_address(ip_address("127.3.2.1"))
    assert is_own_address(ip_address("0.0.0.0")) and is_own_address(ip_address("::ffff:127.0.0.1"))
    assert not is_own_address(ip_address("192.0.2.123"))  # TEST-NET-1: nobody's


class Lookups:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("Name or service not known")
        return self.answers[host]


async def test_names_resolve_to_canonical_addresses_once() -> None:
    lookups = Lookups({"both.example": ["::ffff:10.0.0.1", "10.0.0.1", "2001:db8::1"]})
    resolver = Resolver(lookups)
    first = await resolver.resolve("both.example", 443)
    assert first == (ip_address("10.0.0.1"), ip_address("2001:db8::1"))
    assert await resolver.resolve("BOTH.example", 80) == first
    assert lookups.asked == ["both.example"]


async def test_literals_and_localhost_names_need_no_lookup() -> None:
    lookups = Lookups({})
    resolver = Resolver(lookups)
    assert await resolver.resolve("[::ffff:127.0.0.1]", 1) == (ip_address("127.0.0.1"),)
    for name in ("localhost", "LOCALHOST", "localhost.", "app.localhost"):
        assert await resolver.resolve(name, 1) == LOOPBACK
    assert lookups.asked == []


async def test_unresolvable_names_have_no_addresses() -> None:
    assert await Resolver(Lookups({})).resolve("nowhere.invalid", 1) == ()


async def test_the_system_resolver_reads_every_ipv4_notation() -> None:
    """What asyncio would connect to, without DNS: decimal, hex and short forms."""
    resolver = Resolver()
    for spelling in ("2130706433", "0x7f.0.0.1", "127.1", "0177.0.0.1"):
        assert await resolver.resolve(spelling, 80) == (ip_address("127.0.0.1"),), spelling
