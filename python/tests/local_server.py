"""A real HTTP server on 127.0.0.1 standing in for vendors: it records requests and can delay or hang."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Behaviour:
    status: int = 200
    body: str = '{"ok":true,"errcode":0,"code":0,"id":1}'
    delay_s: float = 0.0
    trickle_s: float = 0.0  # send the body one byte at a time, this far apart (defeats per-read timeouts)
    headers: dict[str, str] = field(default_factory=dict)
    gate: threading.Event | None = None  # hold the answer until the test sets it (a vendor that stalls)
    # With a gate: stop holding when the client hangs up, noting it in VendorServer.events (its timeout fired).
    until_hangup: bool = False
    # Read the whole request, then close the connection without a word (a vendor or proxy that died).
    close: bool = False
    # Send the status line, headers and only the first half of the body, then close (a reply cut short).
    cut: bool = False


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # the server's clock when the request arrived
    status: int = 0  # what it was answered


@dataclass
class VendorServer:
    """Routes by path prefix to a Behaviour; unknown paths get the default Behaviour."""

    routes: dict[str, Behaviour] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    # Answers for the next requests, in order, before the routes apply (429 then 200, say).
    script: list[Behaviour] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    # "<path> received" as each request is in, "<path> hung up" when a client gave up a held one: the order in
    # which things happened, without a clock.
    events: list[str] = field(default_factory=list)

    def start(self) -> VendorServer:
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                behaviour = vendor.script.pop(0) if vendor.script else vendor.behaviour_for(self.path)
                vendor.received.append(
                    Received(self.command, self.path, dict(self.headers), body, vendor.clock(), behaviour.status)
                )
                if behaviour.delay_s:
                    time.sleep(behaviour.delay_s)
                vendor.events.append(f"{self.path} received")
                if behaviour.gate is not None and behaviour.until_hangup:
                    if self._hung_up_before(behaviour.gate):
                        vendor.events.append(f"{self.path} hung up")
                        self.close_connection = True
                        return
                elif behaviour.gate is not None:
                    behaviour.gate.wait(60)
                if behaviour.close:
                    self.close_connection = True
                    return
                payload = behaviour.body.encode()
                try:
                    self.send_response(behaviour.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in behaviour.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if behaviour.cut:
                        self.wfile.write(payload[: len(payload) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                    elif behaviour.trickle_s:
                        for byte in payload:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(behaviour.trickle_s)
                    else:
                        self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout test); nothing to report

            def _hung_up_before(self, gate: threading.Event) -> bool:
                """Waits for the gate; True if the client closed the connection first (EOF on it)."""
                while not gate.wait(0.02):
                    if select.select([self.connection], [], [], 0)[0]:
                        try:
                            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                                return True
                        except OSError:
                            return True
                return False

            do_GET = do_POST = do_PUT = do_PATCH = _serve

            def log_message(self, *args):  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for it, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def behaviour_for(self, path: str) -> Behaviour:
        for prefix in sorted(self.routes, key=len, reverse=True):
            if path.startswith(prefix):
                return self.routes[prefix]
        return Behaviour()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def json_bodies(self) -> list:
        return [json.loads(r.body) for r in self.received if r.body]


def splice(a: socket.socket, b: socket.socket) -> None:
    """Copies bytes both ways between two connected sockets, a thread each way, until either side ends; then
    both are shut down (a relay's two halves: test_socks_proxy.py's SOCKS relay, test_pg_backend.py's proxy)."""

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    for source, sink in ((a, b), (b, a)):
        threading.Thread(target=pipe, args=(source, sink), daemon=True).start()
