"""An HTTP/1.1 keep-alive server on 127.0.0.1 that counts connections and requests in flight: the pooled
HTTP transport and the targets sent at once (test_http_pool.py, test_targets.py) are read from it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class KeepAliveServer:
    """`answer(body) -> (status, text)` decides each reply; `hold(body, connection)` may block before it (a
    stalled vendor). `idle_close_s` closes a connection left idle that long (a server's keep-alive timeout),
    setting `closed_idle` each time."""

    def __init__(self, answer: Callable[[bytes], tuple[int, str]] | None = None,
                 hold: Callable[[bytes, socket.socket], None] | None = None, idle_close_s: float | None = None):
        self.answer = answer or (lambda body: (200, "{}"))
        self.hold = hold or (lambda body, connection: None)
        self.idle_close_s = idle_close_s
        self.lock = threading.Condition()
        self.connections = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.bodies: list[bytes] = []
        self.cookies: list[str | None] = []
        self.closed_idle = threading.Event()
        self.stopping = threading.Event()

    def start(self) -> KeepAliveServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = server.idle_close_s  # StreamRequestHandler: the socket's timeout while idle too

            def setup(self):
                super().setup()
                with server.lock:
                    server.connections += 1

            def log_error(self, format, *args):
                self.timed_out = "timed out" in format  # the idle connection's read timed out

            def finish(self):
                super().finish()
                if getattr(self, "timed_out", False):
                    self.connection.shutdown(socket.SHUT_RDWR)  # the FIN is out before the test goes on
                    server.closed_idle.set()

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    server.bodies.append(body)
                    server.cookies.append(self.headers.get("Cookie"))
                    server.in_flight += 1
                    server.most_in_flight = max(server.most_in_flight, server.in_flight)
                    server.lock.notify_all()
                try:
                    server.hold(body, self.connection)
                    status, text = server.answer(body)
                finally:
                    with server.lock:
                        server.in_flight -= 1
                        server.lock.notify_all()
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Set-Cookie", "session=from-an-earlier-reply")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def wait_for(self, predicate: Callable[[KeepAliveServer], bool], timeout: float = 10.0) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: predicate(self), timeout)

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            self.lock.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()


def peer(body: bytes) -> str:
    """A Chronocat request's target id."""
    return json.loads(body)["peer"]["peerUin"]
