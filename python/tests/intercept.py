"""Every vendor host on loopback: a proxy on 127.0.0.1 that answers itself, for tests whose channels name
real vendor hosts (api2.pushdeer.com, open.feishu.cn, ...). The `intercept` fixture points HTTP_PROXY and
HTTPS_PROXY at it and trusts its CA through REQUESTS_CA_BUNDLE, so every request of the HTTP transport
ends here over a real socket: plain HTTP in absolute form, HTTPS as `CONNECT host:443`, then TLS with a
certificate for that host from a trustme CA made for the test, then the requests inside the tunnel.

Each request is handed to `answer(seen)`, which returns (status, headers, body), or CLOSE (the request is
read, then the connection closed without a word: a vendor that died), or HANG (nothing is said until the
client hangs up: a vendor that never answers).
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

CLOSE = "close"
HANG = "hang"


@dataclass
class Seen:
    method: str
    url: str  # scheme://host[:port]/path?query, as the vendor would be asked
    headers: dict[str, str]
    body: str


def _ok(seen: Seen):
    return 200, {"Content-Type": "application/json"}, '{"ok":true,"errcode":0,"code":0}'


@dataclass
class Interceptor:
    answer: Callable[[Seen], object] = _ok
    seen: list[Seen] = field(default_factory=list)
    # CONNECT requests, with their Proxy-Authorization (None without one).
    tunnels: list[tuple[str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ca = trustme.CA()
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self.ca_path = None  # the CA's PEM file, once the fixture wrote it

    def _context_for(self, host: str) -> ssl.SSLContext:
        with self._lock:
            if host not in self._contexts:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                self.ca.issue_cert(host).configure_cert(context)
                self._contexts[host] = context
            return self._contexts[host]

    def reset(self) -> None:
        self.answer = _ok
        self.seen.clear()
        self.tunnels.clear()

    def start(self) -> Interceptor:
        interceptor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            origin = ""  # https://host[:port] inside a tunnel

            def setup(self):
                super().setup()
                # Without it, a reply written in two pieces waits 40 ms for the client's delayed ACK.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_CONNECT(self):
                interceptor.tunnels.append((self.path, self.headers.get("Proxy-Authorization")))
                host, _, port = self.path.rpartition(":")
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                try:
                    tls = interceptor._context_for(host).wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    self.close_connection = True  # the client refused the certificate
                    return
                self.connection = tls
                self.rfile = tls.makefile("rb")
                self.wfile = tls.makefile("wb")
                self.origin = f"https://{host}" + ("" if port == "443" else f":{port}")
                self.close_connection = False  # handle() goes on reading requests, now inside the tunnel

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                url = self.origin + self.path if self.origin else self.path
                seen = Seen(self.command, url, dict(self.headers), body)
                interceptor.seen.append(seen)
                answer = interceptor.answer(seen)
                if answer == CLOSE:
                    self.close_connection = True
                    return
                if answer == HANG:
                    self._wait_for_hangup()
                    self.close_connection = True
                    return
                status, headers, text = answer
                payload = text if isinstance(text, bytes) else text.encode("utf-8")
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True

            def _wait_for_hangup(self):
                for _ in range(3000):  # at most a minute
                    if select.select([self.connection], [], [], 0.02)[0]:
                        try:
                            if self.connection.recv(1) == b"":
                                return
                        except OSError:  # ssl.SSLError is one
                            return

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
