"""A loopback HTTP server standing in for every vendor at once: it answers each request after a fixed
delay, with a body every benchmarked channel's success rule accepts, and records when requests arrived.

It runs in its own process (`python bench/sink.py DELAY_MS` prints its URL, serves until stdin closes),
so its threads never compete for the GIL with the client being measured. `GET /__stats` returns the
arrival times (time.monotonic(), the same clock in every process on the machine); `POST /__reset`
clears them; `GET /__wait?count=N` answers once N requests have arrived (or after 10 s), with the
arrival times.
"""

from __future__ import annotations

import json
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
ACCEPTED = (b'{"ok":true,"id":"m1","code":200,"retcode":0,"status":"ok","success":true,"errcode":0,'
            b'"content":{"result":["ok"]}}')
TEXT_REPLIES = {"/pushme": b"success"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a dozen simultaneous connects would overflow it and pay a
    # SYN retransmission (1 s), a cost of this server rather than of the client under test.
    request_queue_size = 1024


def serve(delay_s: float) -> _Server:
    arrivals: list[float] = []
    lock = threading.Condition()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real vendors offer
        # Headers and body are two writes: with Nagle on, the body would wait for the client's delayed
        # ACK (40 ms on Linux).
        disable_nagle_algorithm = True

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
            self._reply(text, "text/plain") if text else self._reply(ACCEPTED)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: object) -> None:
            pass

    return _Server(("127.0.0.1", 0), Handler)


class SinkProcess:
    """`with SinkProcess(delay_ms) as sink:` a sink in a child process; `sink.url`, `sink.arrivals()`."""

    def __init__(self, delay_ms: float = 0.0):
        self.delay_ms = delay_ms

    def __enter__(self) -> SinkProcess:
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(self.delay_ms)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
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
    server = serve(float(sys.argv[1]) / 1000 if len(sys.argv) > 1 else 0.0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or exits)
    server.shutdown()


if __name__ == "__main__":
    main()
