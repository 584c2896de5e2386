"""Every test of this plugin runs with the network blocked: nothing may download."""

import socket

import pytest


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    original = socket.socket.connect

    def refuse(self, address, *args, **kwargs):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost") \
                and self.family != socket.AF_UNIX:
            raise OSError(f"network blocked in tests (tried {address})")
        return original(self, address, *args, **kwargs)

    socket.socket.connect = refuse
    yield
    socket.socket.connect = original
