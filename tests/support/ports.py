"""Loopback ports in tests."""

import socket


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` (a stopped server released it).

    The probe sets SO_REUSEADDR, as servers do, so connections the server closed (lingering
    in TIME_WAIT) do not count: only a socket still bound or listening does.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
