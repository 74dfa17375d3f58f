"""Loopback ports in tests."""

import selectors
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


def connects_queued(address: tuple[str, int], count: int, *, give_up_after: float = 3.0) -> int:
    """How many of `count` connections to `address` the kernel completes while the server
    accepts none of them: the size of the listener's accept queue, up to `count`.

    Call it without awaiting in between, so a server on the running event loop cannot accept.
    Connections past a full queue stay unanswered; `give_up_after` seconds without one more
    completing ends the count (it only bounds a failing test).
    """
    sockets: list[socket.socket] = []
    with selectors.DefaultSelector() as selector:
        try:
            for _ in range(count):
                sock = socket.socket()
                sockets.append(sock)
                sock.setblocking(False)
                sock.connect_ex(address)
                selector.register(sock, selectors.EVENT_WRITE)
            connected = 0
            while connected < count:
                ready = selector.select(give_up_after)
                if not ready:
                    break
                for key, _ in ready:
                    sock = key.fileobj  # type: ignore[assignment]
                    selector.unregister(sock)
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        connected += 1
            return connected
        finally:
            for sock in sockets:
                sock.close()
