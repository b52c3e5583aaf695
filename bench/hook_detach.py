"""`mcp-push hook` with a hung vendor: the wall time from spawning the hook (as a host does: its JSON on
stdin, stdout and stderr read to EOF) to its exit, while the loopback vendor holds every request until
the measured run is over. The issue's bound is 1 s. Also: when the vendor had the request (the detached
child's start-up and send), and that each event arrived exactly once after the vendor answered.

    python bench/hook_detach.py [--runs 15] [--host claude-code|codex|cursor]

Nothing leaves the machine. The numbers depend on the machine's load (this one has 2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INPUTS = {
    "claude-code": ([], {"session_id": "3f2a9c1e-bench", "hook_event_name": "Stop", "cwd": "/work/shop",
                         "last_assistant_message": "Done."}),
    "codex": ([json.dumps({"type": "agent-turn-complete", "thread-id": "b5f6c1c2-bench", "cwd": "/work/api",
                           "last-assistant-message": "Done."})], None),
    "cursor": ([], {"hook_event_name": "stop", "conversation_id": "cdefee2d-bench", "status": "completed",
                    "workspace_roots": ["/work/site"]}),
}


class HungVendor:
    """Records each request at once, then holds its answer until release()."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.arrived: list[tuple[float, bytes]] = []
        self.answered = 0
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                vendor.arrived.append((time.perf_counter(), body))
                vendor.gate.wait(120)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                    vendor.answered += 1
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _wait(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--host", choices=sorted(INPUTS), default="claude-code")
    args = parser.parse_args(argv)
    extra, payload = INPUTS[args.host]
    stdin = json.dumps(payload).encode() if payload is not None else b""
    walls, to_vendor = [], []
    with tempfile.TemporaryDirectory() as state:
        vendor = HungVendor()
        env = {**os.environ, "MCP_PUSH_STATE_DIR": state, "HITOKOTO": "false", "WEBHOOK_URL": f"{vendor.url}/hook",
               "WEBHOOK_CONTENT_TYPE": "application/json", "WEBHOOK_BODY": "title: $title\ncontent: $content"}
        env.pop("MCP_PUSH_URL", None)
        for run in range(args.runs):
            vendor.gate.clear()
            before = len(vendor.arrived)
            started = time.perf_counter()
            process = subprocess.run([sys.executable, "-m", "mcp_push", "hook", args.host, *extra], input=stdin,
                                     capture_output=True, env=env, timeout=60)  # stdout and stderr to EOF
            walls.append(time.perf_counter() - started)
            if process.returncode != 0 or process.stderr:
                print(f"run {run}: exit {process.returncode}, stderr {process.stderr[:300]!r}", file=sys.stderr)
                return 1
            if not _wait(lambda: len(vendor.arrived) > before):  # noqa: B023 (used at once)
                print(f"run {run}: the request never reached the vendor", file=sys.stderr)
                return 1
            to_vendor.append(vendor.arrived[-1][0] - started)
            vendor.gate.set()  # the run is measured: let the vendor answer
            _wait(lambda: vendor.answered > run)  # noqa: B023
        once = len(vendor.arrived) == args.runs == vendor.answered
        vendor.server.shutdown()
    row = {
        "host": args.host, "runs": args.runs,
        "hook_wall_s": {"p50": round(statistics.median(walls), 3), "max": round(max(walls), 3),
                        "min": round(min(walls), 3)},
        "vendor_has_request_s": {"p50": round(statistics.median(to_vendor), 3), "max": round(max(to_vendor), 3)},
        "each_event_arrived_once": once,
    }
    print(f"| hook return with a hung vendor (s) | `mcp-push hook {args.host}`, {args.runs} runs | "
          f"{row['hook_wall_s']['p50']} | {row['hook_wall_s']['min']}–{row['hook_wall_s']['max']} | ≤ 1 | "
          f"{'yes' if row['hook_wall_s']['max'] <= 1 else '**no**'} | the vendor had the request after "
          f"{row['vendor_has_request_s']['p50']} s (p50), max {row['vendor_has_request_s']['max']} s; "
          f"each event arrived once: {'yes' if once else 'no'} |")
    print(json.dumps(row))
    return 0 if once else 1


if __name__ == "__main__":
    sys.exit(main())
