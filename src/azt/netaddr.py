"""IP addresses as azt compares them, this machine's own addresses, and name resolution.

One address has many spellings: `::ffff:127.0.0.1` is 127.0.0.1, `LOCALHOST.` is localhost,
`2130706433` and `0x7f.1` are 127.0.0.1 to the resolver that opens connections. azt never
compares spellings: it compares the addresses a name resolves to, in their canonical form.

No mitmproxy here.
"""

import asyncio
import functools
import ipaddress
import socket
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def canonical(ip: IPAddress) -> IPAddress:
    """The address a connection to `ip` reaches: IPv4-mapped and IPv4-compatible IPv6
    addresses (`::ffff:a.b.c.d`, `::a.b.c.d`) are the IPv4 address they carry."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        if mapped is not None:
            return mapped
        value = int(ip)
        if ip.scope_id is None and 1 < value < 2**32:
            return ipaddress.IPv4Address(value)
    return ip


def parse_ip(text: str) -> IPAddress | None:
    """An IP literal in its canonical form (brackets allowed), or None for anything else.

    Only standard notation is a literal here; the resolver reads the other IPv4 forms.
    """
    bare = text.strip()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    try:
        return canonical(ipaddress.ip_address(bare))
    except ValueError:
        return None


def is_loopback(ip: IPAddress) -> bool:
    return canonical(ip).is_loopback


def is_local_destination(ip: IPAddress) -> bool:
    """Loopback, or an unspecified address (0.0.0.0 and :: reach this host when dialled)."""
    ip = canonical(ip)
    return ip.is_loopback or ip.is_unspecified


@functools.lru_cache(maxsize=1024)
def is_own_address(ip: IPAddress) -> bool:
    """Whether `ip` is one of this machine's addresses: a socket can be bound to it.

    If the system allows binding foreign addresses (`ip_nonlocal_bind`), every address looks
    like the machine's own; callers use this only where that errs on the side of refusing.
    """
    ip = canonical(ip)
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(ip), 0))
        except OSError:
            return False
    return True


LOOPBACK: tuple[IPAddress, ...] = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


def is_localhost_name(name: str) -> bool:
    """`localhost` and its subdomains, with or without the root's dot: loopback by definition
    (RFC 6761), whatever a resolver says."""
    name = name.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


type Lookup = Callable[[str, int], Awaitable[list[str]]]


async def system_lookup(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives `host`, as asyncio would connect to them
    (in a worker thread: the event loop never waits on DNS)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class Resolver:
    """Names to canonical addresses, without blocking the event loop.

    Answers are kept a few seconds, so the checks made for one request and for the
    connection it opens see the same addresses and cost one lookup.
    """

    def __init__(
        self, lookup: Lookup = system_lookup, *, keep_seconds: float = 5.0, size: int = 512
    ) -> None:
        self._lookup = lookup
        self._keep = keep_seconds
        self._size = size
        self._answers: OrderedDict[str, tuple[float, tuple[IPAddress, ...]]] = OrderedDict()

    async def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """Every address `host` stands for, canonical and in the resolver's order; empty if
        it does not resolve."""
        literal = parse_ip(host)
        if literal is not None:
            return (literal,)
        key = host.lower()
        if is_localhost_name(key):
            return LOOPBACK
        now = time.monotonic()
        kept = self._answers.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        try:
            found = await self._lookup(host, port)
        except (OSError, UnicodeError):
            found = []
        addresses: list[IPAddress] = []
        for text in found:
            ip = parse_ip(text)
            if ip is not None and ip not in addresses:
                addresses.append(ip)
        answer = tuple(addresses)
        self._answers[key] = (now + self._keep, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)
        return answer
