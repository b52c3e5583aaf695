"""The PostgreSQL backend's commands and its behaviour when PostgreSQL goes away (service/pg, pg_cli.py),
against a real PostgreSQL (pg_helpers.py)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid

import httpx2

from mcp_push.service.pg.url import masked, scrub

from .local_server import Behaviour, splice
from .mcp_helpers import REPO, child_env, http_server
from .pg_helpers import pg_url  # noqa: F401 - a fixture

PASSWORD = "mcp_push"


def test_a_database_url_is_shown_with_its_password_masked():
    assert masked("postgresql://app:s3cret@db.internal:5432/push") == "postgresql://app:***@db.internal:5432/push"
    assert masked("postgresql://db/push?password=s3cret&sslmode=require") == \
        "postgresql://db/push?password=***&sslmode=require"
    assert masked("postgresql://app@db/push") == "postgresql://app@db/push"
    error = 'connection to "postgresql://app:s3cret@db/push" failed:\n  password s3cret rejected'
    assert scrub(error, "postgresql://app:s3cret@db/push") == \
        'connection to "postgresql://app:***@db/push" failed: password *** rejected'


def mcp_push(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The CLI as a process of its own (its logging setup is the process's, not the test's)."""
    return subprocess.run([sys.executable, "-m", "mcp_push", *args], env=child_env(env), cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_db_migrate_can_run_again_and_never_prints_the_password(pg_url):  # noqa: F811
    runs = [mcp_push("db", "migrate", MCP_PUSH_DATABASE_URL=pg_url) for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0]
    assert all("procrastinate schema present" in run.stdout and "mcp-push schema up to date" in run.stdout
               for run in runs)
    assert all(f":{PASSWORD}@" not in run.stdout + run.stderr for run in runs)


def test_worker_and_db_without_a_database_url_are_usage_errors():
    for command in (["db", "migrate"], ["worker"]):
        run = mcp_push(*command)
        assert run.returncode == 2
        assert run.stderr == "mcp-push: error: MCP_PUSH_DATABASE_URL: must be set to a PostgreSQL URL " \
                             "(postgresql://user:password@host/db) for this command\n"


def test_serve_on_an_unreachable_database_stops_with_one_line_and_the_password_masked():
    run = mcp_push("serve", "--transport", "http", "--port", "0",
                   MCP_PUSH_DATABASE_URL="postgresql://app:s3cret@127.0.0.1:9/push")
    assert run.returncode == 2
    assert "database: PostgreSQL at postgresql://app:***@127.0.0.1:9/push is not available" in run.stderr
    assert "s3cret" not in run.stderr and run.stderr.count("\n") == 1


class Proxy:
    """A TCP proxy to PostgreSQL that the test can take down (PostgreSQL gone) and bring back."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._sockets: list[socket.socket] = []
        self.up()

    def up(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        self.listener.listen()
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            splice(client, upstream)

    def down(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread: no connection gets in
        except OSError:
            pass
        self.listener.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
        self._sockets.clear()


def test_postgresql_down_is_a_503_and_what_was_accepted_is_delivered_once_it_is_back(pg_url, vendor):  # noqa: F811
    from urllib.parse import urlsplit

    from mcp_push.service.pg.engine import PgEngine

    parts = urlsplit(pg_url)
    proxy = Proxy((parts.hostname, parts.port or 5432))
    via_proxy = pg_url.replace(parts.netloc, f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}")
    env = {"MCP_PUSH_DATABASE_URL": via_proxy, "MCP_PUSH_WORKERS": "0", "WEBHOOK_URL": f"{vendor.url}/hook",
           "WEBHOOK_CONTENT_TYPE": "application/json", "WEBHOOK_BODY": "title: $title\ncontent: $content"}
    try:
        with http_server(env) as url:
            rest = url.removesuffix("/mcp") + "/v1/events"
            accepted = httpx2.post(rest, json={"run_id": "r", "event": "start", "message": "before"}, timeout=30)
            assert accepted.status_code == 202
            proxy.down()
            refused = httpx2.post(rest, json={"run_id": "r", "event": "end", "message": "during"}, timeout=30)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
            error = refused.json()["error"]
            assert error.startswith("database: PostgreSQL at postgresql://mcp_push:***@127.0.0.1:")
            assert error.endswith("nothing was accepted, try again") and f":{PASSWORD}@" not in error
            mcp = httpx2.post(url, timeout=30, headers={"Accept": "application/json, text/event-stream"},
                              json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                                  "name": "notify_event", "arguments": {"run_id": "r", "event": "end",
                                                                        "message": "during"}}})
            over_mcp = mcp.json()["result"]["structuredContent"]["error"]
            assert over_mcp.split(" (")[0] == error.split(" (")[0]  # the same words over MCP (the cause may vary)
            assert over_mcp.endswith("nothing was accepted, try again")
            proxy.up()
            # A 503 says "try again" (Retry-After): the pool may need a moment to reconnect, as a client would
            # see. Only a 503 is retried, so nothing was accepted before the 202.
            for _ in range(60):
                again = httpx2.post(rest, json={"run_id": "r", "event": "end", "message": "after"}, timeout=30)
                if again.status_code != 503:
                    break
                time.sleep(0.5)
            assert again.status_code == 202
    finally:
        proxy.down()
    worker = PgEngine({k: v for k, v in env.items() if k != "MCP_PUSH_DATABASE_URL"}, pg_url)
    try:
        worker.pump()
    finally:
        worker.close()
    assert [json.loads(r.body)["content"].split("\n")[0] for r in vendor.received] == ["before", "after"]


def test_a_replica_delivers_with_its_own_worker_by_default_and_waits_for_the_result(pg_url, vendor):  # noqa: F811
    env = {"MCP_PUSH_DATABASE_URL": pg_url, "WEBHOOK_URL": f"{vendor.url}/hook",
           "WEBHOOK_CONTENT_TYPE": "application/json", "WEBHOOK_BODY": "title: $title\ncontent: $content"}
    with http_server(env) as url:
        answer = httpx2.post(url.removesuffix("/mcp") + "/v1/messages?wait=true", timeout=60,
                             json={"title": "deploy", "content": "done"})
    assert answer.status_code == 200
    assert [c["status"] for c in answer.json()["channels"]] == ["delivered"]
    assert [json.loads(r.body)["title"] for r in vendor.received] == ["deploy"]


def test_a_job_whose_worker_was_killed_on_the_wire_is_taken_over_and_sent_again(pg_url, vendor):  # noqa: F811
    import signal
    import time

    from mcp_push.service.pg.engine import PgEngine

    gate = threading.Event()
    vendor.script = [Behaviour(gate=gate)]  # the first request is held: its worker is killed meanwhile
    env = {"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_CONTENT_TYPE": "application/json",
           "WEBHOOK_BODY": "title: $title\ncontent: $content"}
    accepting = PgEngine(env, pg_url)

    def worker() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "mcp_push", "worker"], cwd=REPO,
                                env=child_env({**env, "MCP_PUSH_DATABASE_URL": pg_url}),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def until(condition, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)

    first = worker()
    second = None
    try:
        ticket = accepting.submit("end", "the run ended", kind="end", run_id="r")
        until(lambda: len(vendor.received) == 1)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        gate.set()
        second = worker()
        until(lambda: len(vendor.received) == 2)
        until(lambda: (accepting.settle_final(), ticket.entries[0].done.is_set())[1])
        assert ticket.result().channels[0].status == "delivered"
        assert [json.loads(r.body)["title"] for r in vendor.received] == ["end", "end"]  # at least once
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(15)
        accepting.close()


def test_flush_delivers_what_is_pending_in_postgresql_and_exits(pg_url, vendor):  # noqa: F811
    from mcp_push.service.pg.engine import PgEngine

    env = {"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_CONTENT_TYPE": "application/json",
           "WEBHOOK_BODY": "title: $title\ncontent: $content", "HITOKOTO": "false"}
    accepting = PgEngine(env, pg_url)  # a replica that accepts and is gone before any worker ran
    try:
        accepting.submit("start", "c", kind="start", run_id="r")
        for index in range(3):
            accepting.submit(f"update {index}", "c", kind="update", run_id="r")
        accepting.submit("deploy", "done")
    finally:
        accepting.close()
    flushed = mcp_push("flush", "--json", "--timeout", "30", MCP_PUSH_DATABASE_URL=pg_url, **env)
    assert flushed.returncode == 0, flushed.stderr
    assert [json.loads(r.body)["title"] for r in vendor.received] == ["start", "update 2", "deploy"]
    report = json.loads(flushed.stdout)
    assert [(c["channel"], c["status"]) for c in report["channels"]] == [("webhook", "delivered")] * 3
    assert PASSWORD not in flushed.stdout + flushed.stderr
    again = mcp_push("flush", MCP_PUSH_DATABASE_URL=pg_url, **env)
    assert again.returncode == 0 and again.stderr.strip().startswith("Nothing to flush in postgresql://")
    assert ":***@" in again.stderr  # the URL's password masked
    assert len(vendor.received) == 3


def test_a_lanes_next_job_goes_when_the_lane_is_free_not_at_the_next_poll(pg_url, vendor, monkeypatch):  # noqa: F811
    from mcp_push.service.pg import jobs, worker
    from mcp_push.service.pg.engine import PgEngine

    # Polling would find the next job of the lane 10 minutes on: only the lane's job leaving `doing` (schema.py's
    # NOTIFY) wakes the worker in time. They are all accepted before it starts, on a queue of this test's own (the
    # other tests' new jobs notify theirs): no new job wakes it either. Two jobs at a time: a worker of one waits for
    # its job to end and fetches the next then; one of more fetches again at once, finds the lane busy, and waits.
    monkeypatch.setattr(worker, "POLL_SECONDS", 600.0)
    monkeypatch.setattr(jobs, "QUEUE", f"mcp_push_{uuid.uuid4().hex[:8]}")
    env = {"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_CONTENT_TYPE": "application/json",
           "WEBHOOK_BODY": "title: $title\ncontent: $content", "HITOKOTO": "false", "MCP_PUSH_WORKERS": "2"}
    engine = PgEngine(env, pg_url)
    try:
        tickets = [engine.submit(f"m{index}", "c") for index in range(3)]
        engine.start()
        assert engine.drain(60)  # a hang guard: polling alone would take 20 minutes
    finally:
        engine.close()
    assert [json.loads(r.body)["title"] for r in vendor.received] == ["m0", "m1", "m2"]
    assert [t.result().channels[0].status for t in tickets] == ["delivered"] * 3
