"""Real-time run of the delivery engine's burst scenario (the test suite runs it on a fake clock):
1 start, 200 updates (one every 0.3 s) and 1 end of one run, to a WeCom robot spec (20 messages/min)
pointed at a local server. Reports what the vendor saw: requests in the first minute, when the end
arrived after it was sent, and whether any update arrived out of order or after the end.

    python bench/burst.py            # about 70 s
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from mcp_push.service.engine import Engine  # noqa: E402
from mcp_push.service.outbox import Outbox  # noqa: E402

UPDATES, EVERY_S = 200, 0.3


def serve() -> tuple[ThreadingHTTPServer, list[tuple[float, str]]]:
    seen: list[tuple[float, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((time.monotonic(), json.loads(body)["text"]["content"].split("\n\n")[0]))
            payload = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def run() -> dict[str, float | int | bool]:
    server, seen = serve()
    env = {"QYWX_KEY": "bench_key", "QYWX_ORIGIN": f"http://127.0.0.1:{server.server_address[1]}", "HITOKOTO": "false"}
    with tempfile.TemporaryDirectory() as state:
        engine = Engine(env, Outbox(Path(state) / "outbox.sqlite3")).start()
        started = time.monotonic()
        engine.submit("start", "begin", kind="start", run_id="burst")
        for index in range(1, UPDATES + 1):
            time.sleep(EVERY_S)
            engine.submit(f"update {index}", f"progress {index}", kind="update", run_id="burst")
        end_sent = time.monotonic()
        engine.submit("end", "done", kind="end", run_id="burst")
        engine.drain(120)
        engine.close()
    server.shutdown()
    times = [at for at, _ in seen]
    titles = [title for _, title in seen]
    updates = [int(t.split()[1]) for t in titles if t.startswith("update")]
    return {
        "requests": len(seen),
        "first_minute": sum(1 for at in times if at < started + 60),
        "max_in_any_minute": max(sum(1 for other in times[i:] if other < at + 60) for i, at in enumerate(times)),
        "start_first": titles[0] == "start",
        "end_latency_s": round(times[titles.index("end")] - end_sent, 3),
        "end_last": titles[-1] == "end",
        "updates_in_order": updates == sorted(updates) and len(set(updates)) == len(updates),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
