"""A loopback HTTP server standing in for every vendor at once: it answers each request after a fixed
delay, with a body every benchmarked channel's success rule accepts, and records when requests arrived.

It runs in its own process (`python bench/sink.py DELAY_MS [CERT KEY]` prints its URL, serves until stdin
closes),
so its threads never compete for the GIL with the client being measured. `GET /__stats` returns the
arrival times (time.monotonic(), the same clock in every process on the machine); `POST /__reset`
clears them; `GET /__wait?count=N` answers once N requests have arrived (or after 10 s), with the
arrival times.

With a certificate (bench/tls.py) it is also an HTTPS proxy that answers itself: a CONNECT to any host
gets "200 Connection established", then TLS with that certificate, and the requests inside are
answered like any other (by host: HOST_REPLIES). That is how channels whose vendor host the spec fixes
(oapi.dingtalk.com, …) reach it: HTTPS_PROXY names the sink. Nothing is forwarded anywhere.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# One JSON reply that satisfies every success rule of the benchmarked channels: ntfy and Gotify (id),
# Bark (code 200), go-cqhttp (retcode 0), Synology Chat (success), Telegram and OpeniLink (ok), WeCom
# (errcode 0), PushDeer (content.result non-empty); QingLong's notify.py also wants go-cqhttp's status
# "ok". PushMe wants the plain text "success".
# Google Chat (name), Matrix (event_id), the WeCom app's token fetch (access_token) take it too.
ACCEPTED = (b'{"ok":true,"id":"m1","code":200,"retcode":0,"status":"ok","success":true,"errcode":0,'
            b'"content":{"result":["ok"]},"name":"spaces/b/messages/m1","event_id":"$e1",'
            b'"access_token":"bench_token","expires_in":7200}')
TEXT_REPLIES = {"/pushme": b"success", "/slack": b"ok", "/mattermost": b"ok"}
# The hosts reached through CONNECT whose success rule ACCEPTED does not meet.
_CODE0 = b'{"code":0,"msg":"ok","StatusCode":0}'
HOST_REPLIES = {
    "api-bot.aibotk.com": _CODE0,
    "open.feishu.cn": _CODE0,
    "open.larksuite.com": _CODE0,
    "qmsg.zendee.cn": _CODE0,
    "push.hellyw.com": b'{"ret":0}',
    "sctapi.ftqq.com": b'{"code":0,"data":{"errno":0}}',
    "api.pushover.net": b'{"status":1,"request":"r1"}',
    "wxpusher.zjiecode.com": b'{"code":1000,"data":[{"code":1000}]}',
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a dozen simultaneous connects would overflow it and pay a
    # SYN retransmission (1 s), a cost of this server rather than of the client under test.
    request_queue_size = 1024


def serve(delay_s: float, tls: ssl.SSLContext | None = None) -> _Server:
    arrivals: list[float] = []
    lock = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real vendors offer
        # Headers and body are two writes: with Nagle on, the body would wait for the client's delayed
        # ACK (40 ms on Linux).
        disable_nagle_algorithm = True
        vendor_host = ""  # set once a CONNECT tunnel is open

        def do_CONNECT(self) -> None:
            if tls is None:
                self.send_error(405, "no certificate: start the sink with CERT KEY")
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            try:
                self.connection = tls.wrap_socket(self.connection, server_side=True)
            except (OSError, ssl.SSLError):
                self.close_connection = True
                return
            self.rfile = self.connection.makefile("rb", self.rbufsize)
            self.wfile = self.connection.makefile("wb", 0)
            self.vendor_host = self.path.rsplit(":", 1)[0]
            # The tunnel stays open whatever the CONNECT said (urllib3 sends it as HTTP/1.0).
            self.close_connection = False

        def _reply(self, body: bytes, content_type: str = "application/json") -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client went away

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if self.path == "/__stats":
                with lock:
                    return self._reply(json.dumps({"arrivals": arrivals}).encode())
            if self.path.startswith("/__wait"):
                count = int(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["count"][0])
                with lock:
                    lock.wait_for(lambda: len(arrivals) >= count, timeout=10)
                    return self._reply(json.dumps({"arrivals": arrivals}).encode())
            if self.path == "/__reset":
                with lock:
                    arrivals.clear()
                return self._reply(b"{}")
            with lock:
                arrivals.append(time.monotonic())
                lock.notify_all()
            if delay_s:
                time.sleep(delay_s)
            text = next((b for prefix, b in TEXT_REPLIES.items() if self.path.startswith(prefix)), None)
            if text:
                return self._reply(text, "text/plain")
            self._reply(HOST_REPLIES.get(self.vendor_host, ACCEPTED))

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: object) -> None:
            pass

    return _Server(("127.0.0.1", 0), Handler)


class SinkProcess:
    """`with SinkProcess(delay_ms) as sink:` a sink in a child process; `sink.url`, `sink.arrivals()`."""

    def __init__(self, delay_ms: float = 0.0, cert: tuple[str, str] | None = None):
        self.delay_ms = delay_ms
        self.cert = list(cert or ())

    def __enter__(self) -> SinkProcess:
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(self.delay_ms), *self.cert],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the sink did not start: {self.url!r}")
        return self

    def _call(self, path: str, method: str = "GET") -> dict:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=20) as reply:
            return json.loads(reply.read())

    def arrivals(self) -> list[float]:
        return self._call("/__stats")["arrivals"]

    def wait_for(self, count: int) -> list[float]:
        """The arrival times once `count` requests have arrived (at most 10 s later)."""
        return self._call(f"/__wait?count={count}")["arrivals"]

    def reset(self) -> None:
        self._call("/__reset", "POST")

    def __exit__(self, *exc: object) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main() -> None:
    tls = None
    if len(sys.argv) > 3:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
    server = serve(float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.0, tls)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or exits)
    server.shutdown()


if __name__ == "__main__":
    main()
