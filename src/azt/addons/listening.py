"""Where this gateway listens, as mitmproxy bound it, and whose connection a flow came on."""

from mitmproxy import connection, ctx

from azt.destinations import Listener
from azt.netaddr import IPAddress, parse_ip


def bound_listeners() -> dict[str, list[Listener]]:
    """The bound addresses of each running listener, by mitmproxy's mode name (`reverse`,
    `regular`, `socks5`); empty before the listeners are up or without a proxy server."""
    master = getattr(ctx, "master", None)
    proxyserver = master.addons.get("proxyserver") if master is not None else None
    found: dict[str, list[Listener]] = {}
    for server in getattr(proxyserver, "servers", ()):
        for address in server.listen_addrs:
            ip = parse_ip(str(address[0]))
            if ip is not None:
                found.setdefault(server.mode.type_name, []).append(Listener(ip, int(address[1])))
    return found


def peer_of(conn: connection.Connection) -> IPAddress | None:
    """The address at the other end of a connection."""
    return parse_ip(str(conn.peername[0])) if conn.peername else None


def local_end_of(conn: connection.Connection) -> IPAddress | None:
    """The address this end of a connection is bound to."""
    return parse_ip(str(conn.sockname[0])) if conn.sockname else None
