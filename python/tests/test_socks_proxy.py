"""A SOCKS proxy from the environment (ALL_PROXY=socks5h://..., urllib3's SOCKS support on PySocks): the
request goes through it. A loopback SOCKS5 relay (no authentication, CONNECT only) stands in for it."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from mcp_push import dispatch
from mcp_push.transports import pools

from .local_server import splice

pytest.importorskip("socks")


class Socks5Relay:
    """Accepts SOCKS5 CONNECTs and relays the bytes; `targets` lists where each connection asked to go."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"socks5h://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        def read(count: int) -> bytes:
            data = b""
            while len(data) < count:
                chunk = client.recv(count - len(data))
                if not chunk:
                    raise ConnectionError("client left")
                data += chunk
            return data

        try:
            _, methods = read(2)
            read(methods)
            client.sendall(b"\x05\x00")  # no authentication
            _, command, _, kind = read(4)
            if kind == 3:
                host = read(read(1)[0]).decode()
            else:
                host = socket.inet_ntoa(read(4))
            (port,) = struct.unpack("!H", read(2))
            self.targets.append((host, port))
            upstream = socket.create_connection((host, port))
            client.sendall(b"\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00")
        except (OSError, ConnectionError):
            client.close()
            return
        splice(client, upstream)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def relay():
    server = Socks5Relay()
    yield server
    server.close()
    pools.clear()


def test_a_socks_proxy_from_the_environment_carries_the_request(vendor, relay, monkeypatch):
    monkeypatch.setenv("ALL_PROXY", relay.url)
    port = int(vendor.url.rsplit(":", 1)[1])
    result = dispatch("t", "c", {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false"})
    assert (result["ntfy"].ok, result["ntfy"].status, result["ntfy"].error) == (True, "delivered", None)
    assert relay.targets == [("127.0.0.1", port)]
    assert [r.path for r in vendor.received] == ["/a"]
