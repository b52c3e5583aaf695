"""The delivery history shared in PostgreSQL (service/pg/history.py): a run accepted by one replica and delivered
by a worker in another process is told, with its final per-channel states, by the other replica's notify_status,
status page and /metrics and by `mcp-push history`. The behaviours both backends share are in test_backends.py;
here what only PostgreSQL has: other processes, and the history following the queue's rows."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx2

from mcp_push import dispatch
from mcp_push import result as R
from mcp_push.service.delivery import Delivery
from mcp_push.service.history import Message, store_for
from mcp_push.service.pg.history import PgHistory, pg_sql

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env, http_server
from .pg_helpers import pg_url  # noqa: F401 - a fixture

SECRET = "tok_5a4b3c2d1e0f9a8b"


def until(condition, seconds: float = 60):
    """Polls `condition` until it returns something true (another process writes meanwhile); returns that."""
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def notify_status(mcp_url: str, run_id: str) -> dict:
    answer = httpx2.post(mcp_url, timeout=30, headers={"Accept": "application/json, text/event-stream"},
                         json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                               "params": {"name": "notify_status", "arguments": {"run_id": run_id}}})
    return answer.json()["result"]["structuredContent"]


def test_a_run_accepted_on_one_replica_and_sent_by_a_worker_is_told_by_the_other_replica(pg_url, vendor, tmp_path):  # noqa: F811
    vendor.routes["/bad"] = Behaviour(status=400, body=json.dumps({"error": f"unknown token {SECRET}"}))
    env = {"MCP_PUSH_DATABASE_URL": pg_url, "MCP_PUSH_WORKERS": "0", "NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts",
           "WEBHOOK_URL": f"{vendor.url}/bad?token={SECRET}", "WEBHOOK_CONTENT_TYPE": "application/json",
           "WEBHOOK_BODY": "title: $title\ncontent: $content"}
    worker = subprocess.Popen([sys.executable, "-m", "mcp_push", "worker"], cwd=REPO,
                              env=child_env({**env, "MCP_PUSH_STATE_DIR": str(tmp_path / "w")}),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # Each replica with a state folder of its own: what B tells can only come from the shared history.
        with http_server({**env, "MCP_PUSH_STATE_DIR": str(tmp_path / "a")}) as a, \
                http_server({**env, "MCP_PUSH_STATE_DIR": str(tmp_path / "b")}) as b:
            rest = a.removesuffix("/mcp") + "/v1/events"
            for index, event in enumerate(("start", "update", "end")):
                posted = httpx2.post(rest, timeout=30, json={"run_id": "deploy-9", "event": event,
                                                             "message": f"{event} {SECRET}", "data": {"step": "roll"}})
                assert posted.status_code == 202, posted.text
                # One event at a time: an end accepted while an update waits would supersede that update.
                until(lambda: sum(r.path == "/alerts" for r in vendor.received) > index)  # noqa: B023
            status = until(lambda: (s := notify_status(b, "deploy-9"))["state"] == "ended" and all(
                c["state"] not in ("queued", "retrying") for c in s["channels"]) and s)
            base = b.removesuffix("/mcp")
            page = httpx2.get(base + "/status/data", timeout=30).json()
            html = httpx2.get(base + "/", timeout=30)
            metrics = httpx2.get(base + "/metrics", timeout=30).text
        history = subprocess.run([sys.executable, "-m", "mcp_push", "history", "--json"], cwd=REPO, timeout=60,
                                 env=child_env({**env, "MCP_PUSH_STATE_DIR": str(tmp_path / "cli")}),
                                 capture_output=True, text=True)
    finally:
        worker.terminate()
        worker.wait(15)
    assert [e["event"] for e in status["events"]] == ["start", "update", "end"]
    channels = {c["channel"]: (c["state"], c["delivered"], c["failed"]) for c in status["channels"]}
    assert channels == {"ntfy": ("delivered", 3, 0), "webhook": ("failed", 0, 3)}
    assert "unknown token" in {c["channel"]: c for c in status["channels"]}["webhook"]["error"]
    [run] = page["runs"]
    assert (run["run_id"], run["state"]) == ("deploy-9", "ended") and page["history"] is True
    assert {c["channel"]: c["state"] for c in run["channels"]} == {"ntfy": "delivered", "webhook": "failed"}
    assert [d["channel"] for d in page["failed"]] == ["webhook"] * 3 and page["pending"] == []
    assert html.status_code == 200 and "/status/data" in html.text
    assert 'mcp_push_history_deliveries{channel="ntfy",state="delivered"} 3.0' in metrics
    assert 'mcp_push_history_deliveries{channel="webhook",state="failed"} 3.0' in metrics
    assert history.returncode == 0, history.stderr
    rows = json.loads(history.stdout)
    assert sorted((r["channel"], r["state"], r["event"]) for r in rows) == sorted(
        [("ntfy", "delivered", e) for e in ("start", "update", "end")]
        + [("webhook", "failed", e) for e in ("start", "update", "end")])
    told = json.dumps([status, page, rows]) + metrics + html.text
    assert SECRET not in told
    import psycopg

    with psycopg.connect(pg_url) as conn:  # what the worker and the replicas wrote, read past the store
        stored = json.dumps([list(r) for table in ("mcp_push_history_messages", "mcp_push_history_deliveries")
                             for r in conn.execute(f"SELECT * FROM {table}")], default=str)  # noqa: S608
    assert "unknown token" in stored and SECRET not in stored


def test_a_result_the_history_did_not_hear_of_is_copied_from_the_queue(pg_url):  # noqa: F811
    """A worker killed after settling its row, or one whose settle came before the accepting replica wrote
    the delivery: the queue's final row is the truth, and every store copies it into its pending history."""
    from mcp_push.service.pg.state import PgState

    state = PgState(pg_url)
    store = PgHistory(pg_url)
    try:
        delivery = Delivery(0, "lane", "ntfy", "message", None, "t", "c", message_id="m1")
        state.accept(delivery, None, lambda _conn, _d: None)
        store.accepted(Message("m1", "message", None, "t", "c"), [delivery], {})
        store.sync()
        state.settle(delivery.row, R.ChannelResult("ntfy", False, R.REJECTED, "bad request", 1, 12, 400).to_dict())
        with store.pool.connection() as conn:
            assert store.reconcile(conn) == 1
        [row] = store.query("SELECT state, outcome, error, http_status, attempts FROM deliveries")
        assert row == {"state": "failed", "outcome": "rejected", "error": "bad request", "http_status": 400,
                       "attempts": 1}
    finally:
        store.close()
        state.close()


def test_a_workers_settle_that_comes_before_the_accepted_row_is_kept_until_the_row_is_written(pg_url):  # noqa: F811
    worker, replica = PgHistory(pg_url), PgHistory(pg_url)
    try:
        taken = Delivery(41, "lane", "ntfy", "message", None, "t", "c")  # as a worker reads it: no message id
        taken.edited = True
        worker.settled(taken, R.ChannelResult("ntfy", True, R.DELIVERED, attempts=1))
        worker.sync()
        replica.accepted(Message("m1", "message", None, "t", "c"),
                         [Delivery(41, "lane", "ntfy", "message", None, "t", "c", message_id="m1")], {})
        replica.sync()
        # The worker tries it again every RECONCILE_SECONDS: it lands once the row is there.
        assert until(lambda: replica.query("SELECT state, edited FROM deliveries WHERE state <> 'queued'")) == [
            {"state": "delivered", "edited": 1}]
    finally:
        worker.close()
        replica.close()


def test_with_the_url_set_the_library_and_the_cli_record_in_the_shared_history(pg_url, vendor, tmp_path):  # noqa: F811
    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false", "MCP_PUSH_DATABASE_URL": pg_url,
           "MCP_PUSH_STATE_DIR": str(tmp_path / "s")}
    result = dispatch("t", "c", env)
    store = store_for(env)
    assert isinstance(store, PgHistory)
    [row] = store.query("SELECT message_id, state, channel FROM deliveries")
    assert row == {"message_id": result.message_id, "state": "delivered", "channel": "ntfy"}
    assert not (tmp_path / "s" / "history.sqlite3").exists()


def test_the_readers_sqlite_sql_is_read_on_the_shared_tables():
    assert pg_sql("SELECT * FROM messages WHERE run_id = ? ORDER BY created, rowid") == (
        "SELECT * FROM mcp_push_history_messages WHERE run_id = %s ORDER BY created, seq")
    assert pg_sql("SELECT d.*, m.title FROM deliveries d JOIN messages m ON m.message_id = d.message_id"
                  " WHERE d.title LIKE '%x'") == (
        "SELECT d.*, m.title FROM mcp_push_history_deliveries d JOIN mcp_push_history_messages m ON"
        " m.message_id = d.message_id WHERE d.title LIKE '%%x'")


def test_a_database_migrated_before_the_history_loses_history_until_migrated_again(pg_url, caplog):  # noqa: F811
    import psycopg

    from mcp_push.service.pg.history import open_history
    from mcp_push.service.pg.schema import migrate

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE mcp_push_history_deliveries, mcp_push_history_messages")
    with caplog.at_level("WARNING", logger="mcp_push"):
        assert open_history({}, pg_url) is None  # the server runs on without it
    assert "no delivery history tables yet: run `mcp-push db migrate`" in caplog.text
    migrate(pg_url)  # adds them to the existing schema; the rest is left as it was
    store = open_history({}, pg_url)
    try:
        assert isinstance(store, PgHistory) and store.query("SELECT COUNT(*) AS n FROM deliveries") == [{"n": 0}]
    finally:
        store.close()


def test_history_on_a_database_that_is_not_there_is_one_line_with_the_password_masked(tmp_path):
    from .mcp_helpers import free_port

    url = f"postgresql://push:pw_9z8y7x@127.0.0.1:{free_port()}/push"
    shown = subprocess.run([sys.executable, "-m", "mcp_push", "history"], cwd=REPO, timeout=60, capture_output=True,
                           text=True, env=child_env({"MCP_PUSH_DATABASE_URL": url,
                                                     "MCP_PUSH_STATE_DIR": str(tmp_path / "s")}))
    assert shown.returncode == 2 and shown.stdout == ""
    [line] = shown.stderr.splitlines()
    assert line.startswith("mcp-push: error: cannot read the delivery history in PostgreSQL (MCP_PUSH_DATABASE_URL): ")
    assert "127.0.0.1" in line and "pw_9z8y7x" not in line  # why, the password masked
