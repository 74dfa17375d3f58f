"""Loopback ports in tests."""

import socket


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:`port` (a stopped server released it)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
