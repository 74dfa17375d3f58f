"""Where the proxy listeners may relay a client: the decision, independent of mitmproxy.

Two rules, for every destination a client names (a plain-HTTP proxy request, a CONNECT, a
SOCKS connect), applied to each address the destination resolves to:

- **No loops.** A destination that is one of this gateway's own listeners (reverse, proxy,
  SOCKS, or the account pool's port) is refused, however it is spelt: a listener on a
  wildcard address is reached through any of this machine's addresses, one on loopback
  through any loopback address, and 0.0.0.0 or :: dial this host.
- **Nothing local for other machines.** A client that is not on this machine is never
  relayed to this host's loopback (127/8, ::1), to an unspecified address, or to a
  link-local address (169.254/16, fe80::/10: the neighbourhood of this host, cloud metadata).

Clients on this machine may still reach any other local service through the proxy.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from azt.netaddr import IPAddress, canonical, is_local_destination, is_loopback


@dataclass(frozen=True)
class Listener:
    """An address and port this gateway accepts connections on."""

    address: IPAddress
    port: int


class Refusal(StrEnum):
    LOOP = "loop"  # the destination is this gateway itself
    LOCAL = "local"  # a local-only address, asked for by another machine


def client_is_local(peer: IPAddress | None, arrived_on: IPAddress | None) -> bool:
    """Whether a client is on this machine: it connects from loopback, or from the very
    address it connected to (only this host can have both ends of such a connection).

    Deliberately not "any address this machine could bind": systems that allow binding
    foreign addresses would make every client look local.
    """
    if peer is None:
        return False
    peer = canonical(peer)
    return peer.is_loopback or (arrived_on is not None and peer == canonical(arrived_on))


def is_gateway(
    ip: IPAddress, port: int, listeners: Iterable[Listener], own: Callable[[IPAddress], bool]
) -> bool:
    """Whether a connection to `ip:port` reaches one of `listeners`.

    `own` tells this machine's addresses apart (see `azt.netaddr.is_own_address`).
    """
    ip = canonical(ip)
    for listener in listeners:
        if listener.port != port:
            continue
        bound = canonical(listener.address)
        if ip.is_unspecified:  # dialling 0.0.0.0 or :: reaches this host
            return True
        if bound.is_unspecified:
            if is_local_destination(ip) or own(ip):
                return True
        elif bound.is_loopback:
            if ip.is_loopback:
                return True
        elif ip == bound:
            return True
    return False


def refusal(
    addresses: Iterable[IPAddress],
    port: int,
    *,
    client_local: bool,
    listeners: Iterable[Listener],
    own: Callable[[IPAddress], bool],
) -> Refusal | None:
    """Why a client may not be relayed to `port` on any of `addresses`, or None if it may."""
    listeners = tuple(listeners)
    for ip in addresses:
        if is_gateway(ip, port, listeners, own):
            return Refusal.LOOP
    if not client_local:
        for ip in addresses:
            ip = canonical(ip)
            if is_loopback(ip) or ip.is_unspecified or ip.is_link_local:
                return Refusal.LOCAL
    return None
