"""The engine's listening socket: accepted connections must not wait on Nagle's algorithm."""

from __future__ import annotations

import socket

from byom.engine import service


def test_the_listening_socket_disables_nagle() -> None:
    # Measured before the fix: ~44 ms per answer on loopback (uvicorn writes headers and body separately and the
    # second write waited for the client's delayed ACK); 0.6 ms with TCP_NODELAY. Timings are not asserted.
    sock = service._bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()
