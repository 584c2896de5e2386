"""Blocking the network in tests, so a test proves that nothing downloads."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

LOCAL = ("127.0.0.1", "::1", "localhost")


@contextmanager
def no_network() -> Iterator[None]:
    """Inside, any socket connection to a non-local address raises ``OSError``."""
    original = socket.socket.connect

    def refuse(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in LOCAL and self.family != socket.AF_UNIX:
            raise OSError(f"network blocked in tests (tried {address})")
        return original(self, address, *args, **kwargs)

    socket.socket.connect = refuse
    try:
        yield
    finally:
        socket.socket.connect = original
