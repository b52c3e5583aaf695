"""The replicated mode's capacity on this machine (docs/DEPLOYMENT.md, "Capacity"): a real PostgreSQL, real
`mcp-push serve` replicas and `mcp-push worker` processes, a loopback vendor that answers at once.

- accept: jobs/s accepted through REST (POST /v1/messages, 202) into PostgreSQL by 1 and by 2 replicas
  that only accept (MCP_PUSH_WORKERS=0), from CLIENTS threads with keep-alive connections;
- one lane: deliveries/s that one worker sends on one lane (one credential: the lane's lock makes them
  one at a time), with no vendor quota (a webhook), so the number is mcp-push's and PostgreSQL's own;
- many lanes: deliveries/s over LANES lanes (a config file's webhook instances, one URL each) by one
  worker with --concurrency 8.

    python bench/pg_capacity.py [--url postgresql://…] [--messages 200] [--clients 8]

The URL defaults to MCP_PUSH_TEST_DATABASE_URL (`source .ci/postgres.sh`); the bench works in a schema of
its own there and drops it afterwards. Prints a JSON object of the numbers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

LANES = 16


def vendor() -> tuple[ThreadingHTTPServer, list[float]]:
    """A webhook vendor answering 200 at once; the monotonic time of each request it had."""
    seen: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *args: None  # a worker stopped with its connection open: nothing to report
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_PUSH_", "WEBHOOK_"))}
    env.update({"PYTHONPATH": str(REPO / "python"), "HITOKOTO": "false", **extra})
    return env


def serve(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mcp_push", "serve", "--transport", "http", "--port",
                                str(port)], env=child_env(env), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, cwd=REPO)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("a replica did not start") from None
            time.sleep(0.05)


def post_all(ports: list[int], bodies: list[dict], clients: int) -> float:
    """POSTs every body (client i to replica i % len(ports)); the seconds it took. Every answer must be 202."""
    chunks = [bodies[i::clients] for i in range(clients)]
    failures: list[str] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", ports[index % len(ports)], timeout=60)
        for body in chunks[index]:
            conn.request("POST", "/v1/messages", json.dumps(body), {"Content-Type": "application/json"})
            answer = conn.getresponse()
            text = answer.read()
            if answer.status != 202:
                failures.append(f"{answer.status} {text[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} calls were not accepted: {failures[0]}")
    return took


def note(text: str) -> None:
    print(f"pg_capacity: {text}", file=sys.stderr, flush=True)


def drain(env: dict[str, str], seen: list[float], count: int, concurrency: int) -> float:
    """Starts a worker; deliveries/s between the first and the last of `count` arrivals."""
    seen.clear()
    worker = subprocess.Popen([sys.executable, "-m", "mcp_push", "worker", "--concurrency", str(concurrency)],
                              env=child_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        deadline = time.monotonic() + 600
        while len(seen) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(seen)} of {count} delivered in 600 s")
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(30)
    return (count - 1) / (seen[count - 1] - seen[0])


def run(url: str, messages: int, clients: int) -> dict[str, object]:
    import psycopg

    from mcp_push.service.pg.schema import migrate

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    scoped = f"{url}{'&' if '?' in url else '?'}options={quote(f'-csearch_path={schema}')}"
    server, seen = vendor()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    folder = Path(tempfile.mkdtemp(prefix="mcp-push-bench-"))
    config = folder / "mcp-push.yaml"
    config.write_text("channels:\n" + "".join(
        f'  lane{i}: {{type: webhook, env: {{WEBHOOK_URL: "{base}/hook/{i}", WEBHOOK_CONTENT_TYPE: '
        f'application/json, WEBHOOK_BODY: "title: $title"}}}}\n' for i in range(LANES)))
    env = {"MCP_PUSH_DATABASE_URL": scoped, "MCP_PUSH_WORKERS": "0", "MCP_PUSH_STATE_DIR": str(folder),
           "MCP_PUSH_LANE_QUEUE_MAX": str(messages * 4), "WEBHOOK_URL": f"{base}/hook",
           "WEBHOOK_CONTENT_TYPE": "application/json", "WEBHOOK_BODY": "title: $title"}
    numbers: dict[str, object] = {"messages": messages, "clients": clients, "lanes": LANES}
    try:
        migrate(scoped)
        replicas = [serve(env), serve(env)]
        try:
            ports = [port for _, port in replicas]
            one = [{"title": f"m{i}", "content": "c", "channels": ["webhook"]} for i in range(messages)]
            note("accepting through 1 replica")
            numbers["accept_1_replica_per_s"] = round(messages / post_all(ports[:1], one, clients), 1)
            note("accepting through 2 replicas")
            numbers["accept_2_replicas_per_s"] = round(messages / post_all(ports, one, clients), 1)
        finally:
            for process, _ in replicas:
                process.terminate()
                process.wait(30)
        # 2 × messages wait on the webhook's one lane: one worker sends them, one at a time.
        note("one worker on one lane")
        numbers["one_lane_deliveries_per_s"] = round(drain(env, seen, 2 * messages, 8), 1)
        replica = serve({**env, "MCP_PUSH_CONFIG": str(config)})
        try:
            spread = [{"title": f"m{i}", "content": "c", "channels": [f"lane{i % LANES}"]} for i in range(messages)]
            post_all([replica[1]], spread, clients)
        finally:
            replica[0].terminate()
            replica[0].wait(30)
        note(f"one worker on {LANES} lanes")
        numbers["many_lanes_deliveries_per_s"] = round(drain({**env, "MCP_PUSH_CONFIG": str(config)}, seen,
                                                             messages, 8), 1)
    finally:
        server.shutdown()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    numbers["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    return numbers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("MCP_PUSH_TEST_DATABASE_URL", ""),
                        help="a PostgreSQL URL (default: MCP_PUSH_TEST_DATABASE_URL)")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    if not args.url:
        parser.error("--url: a PostgreSQL URL is needed (source .ci/postgres.sh sets MCP_PUSH_TEST_DATABASE_URL)")
    print(json.dumps(run(args.url, args.messages, args.clients), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
