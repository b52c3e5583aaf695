"""history.py: every message, event and delivery the engine, the CLI and the library handle is in the state
folder's history.sqlite3, masked, bounded by age and count, written off the delivery path."""

from __future__ import annotations

import json
import sqlite3

from mcp_push import dispatch, retry
from mcp_push.events import RunLog, send_event
from mcp_push.service.engine import Engine
from mcp_push.service.history import FILE_NAME, Message, Retention, SqliteHistory, store_for
from mcp_push.service.outbox import Outbox
from mcp_push.service.run_status import recent_runs, run_view
from mcp_push.service.watchers import history_of, watch

from .local_server import Behaviour

SECRET = "tok_9f8e7d6c5b4a3210"


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def two_channels(vendor) -> dict[str, str]:
    """ntfy delivers; the webhook (its URL carries a secret token) is refused with an echo of that URL."""
    vendor.routes["/bad"] = Behaviour(status=400, body=json.dumps({"error": f"unknown token {SECRET}"}))
    return {"NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts", "WEBHOOK_URL": f"{vendor.url}/bad?token={SECRET}",
            "WEBHOOK_CONTENT_TYPE": "application/json", "WEBHOOK_BODY": "title: $title\ncontent: $content",
            "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": ""}


def engine_with_history(tmp_path, env, clock=None) -> tuple[Engine, SqliteHistory]:
    engine = Engine(env, Outbox(None), **({"clock": clock} if clock else {}))
    store = SqliteHistory(tmp_path / FILE_NAME)
    engine.observers.append(store)
    return engine, store


def test_a_run_with_a_failing_channel_is_recorded_event_by_event(vendor, tmp_path):
    engine, store = engine_with_history(tmp_path, two_channels(vendor))
    ids = []
    for kind, progress in (("start", None), ("update", 0.5), ("end", None)):
        ticket = engine.submit(f"build {kind}", "text", kind=kind, run_id="build-7",
                               note={"step": "tests", "progress": progress, "message": f"{kind} now"})
        ids.append(ticket.message_id)
        assert ticket.result().message_id == ticket.message_id
        engine.pump()
    assert len(set(ids)) == 3 and all(len(i) == 16 for i in ids)
    view = run_view(store, run_id="build-7")
    assert (view["state"], view["events_total"], view["last_event"], view["progress"]) == ("ended", 3, "end", 0.5)
    assert [e["event"] for e in view["events"]] == ["start", "update", "end"]
    assert view["events"][1]["message"] == "update now" and view["events"][1]["step"] == "tests"
    channels = {c["channel"]: c for c in view["channels"]}
    ntfy = channels["ntfy"]
    assert (ntfy["state"], ntfy["delivered"], ntfy["error"]) == ("delivered", 3, None)
    webhook = channels["webhook"]
    assert (webhook["state"], webhook["failed"], webhook["http_status"]) == ("failed", 3, 400)
    assert "unknown token" in webhook["error"] and SECRET not in webhook["error"]
    one = view["events"][2]["deliveries"]
    assert {d["channel"]: (d["state"], d["outcome"], d["attempts"]) for d in one} == {
        "ntfy": ("delivered", "delivered", 1), "webhook": ("failed", "rejected", 1)}
    # The same run, found by one of its messages; and in the list of recent runs.
    assert run_view(store, message_id=ids[0])["run_id"] == "build-7"
    assert [r["run_id"] for r in recent_runs(store)] == ["build-7"]
    assert "webhook failed (delivered 0 of 3)" in view["summary"]
    assert run_view(store, run_id="nope") is None and run_view(store, message_id="nope") is None


def test_a_retrying_delivery_shows_its_last_error_and_when_the_next_try_is_due(vendor, tmp_path, monkeypatch):
    vendor.script = [Behaviour(status=503, body="busy")]
    clock = FakeClock()
    engine, store = engine_with_history(tmp_path, {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false"},
                                        clock)
    seen = []

    def sleep(seconds: float) -> None:  # between the two tries: what the history says meanwhile
        seen.append(run_view(store, message_id=ticket.message_id)["channels"][0])

    monkeypatch.setattr(retry, "PACE", retry.Pace(sleep, lambda: 0.0, lambda: 0.0, at_once=1))
    ticket = engine.submit("t", "c")
    assert run_view(store, message_id=ticket.message_id)["channels"][0]["state"] == "queued"
    engine.pump()
    [during] = seen
    assert during["state"] == "retrying" and "503" in during["error"] and during["next_at"] is not None
    final = run_view(store, message_id=ticket.message_id)["channels"][0]
    assert (final["state"], final["attempts"], final["next_at"]) == ("delivered", 2, None)


def test_a_delivery_held_by_a_rate_limit_says_when_it_will_go(vendor, tmp_path):
    clock = FakeClock()
    env = {"QYWX_KEY": "key_wb_test", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"}
    engine, store = engine_with_history(tmp_path, env, clock)
    tickets = [engine.submit("t", f"message {i}") for i in range(25)]
    engine.pump()
    states = [run_view(store, message_id=t.message_id)["channels"][0] for t in tickets]
    held = [s for s in states if s["state"] == "queued"]
    assert [s["state"] for s in states].count("delivered") + len(held) == 25
    assert len(held) >= 5 and all(s["next_at"] is not None for s in held)


def test_superseded_updates_are_skipped_and_the_run_is_still_whole(vendor, tmp_path):
    clock = FakeClock()
    env = {"QYWX_KEY": "key_wb_test", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"}
    engine, store = engine_with_history(tmp_path, env, clock)
    for i in range(25):  # beyond the rate limit: the updates wait
        engine.submit("filler", f"{i}")
    first = engine.submit("u1", "c", kind="update", run_id="r")
    engine.submit("u2", "c", kind="update", run_id="r")
    engine.pump()
    assert run_view(store, message_id=first.message_id)["events"][0]["deliveries"][0]["outcome"] == "superseded"
    assert {c["state"] for c in run_view(store, run_id="r")["channels"]} == {"queued"}


def test_pruning_keeps_the_newest_max_and_drops_what_is_older_than_the_days(tmp_path):
    clock = FakeClock()
    store = SqliteHistory(tmp_path / FILE_NAME, Retention(days=1, max_deliveries=10), clock)
    from mcp_push import result as R

    for i in range(30):
        clock.now += 60
        store.record(Message(f"m{i}", "message", None, "t", "c", created=clock.now),
                     [R.ChannelResult("ntfy", True, R.DELIVERED)], {})
    store.sync()
    store.prune()
    kept = store.query("SELECT message_id FROM deliveries ORDER BY id")
    assert [r["message_id"] for r in kept] == [f"m{i}" for i in range(20, 30)]
    assert store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"] == 10
    clock.now += 2 * 86400
    store.prune()
    assert store.query("SELECT COUNT(*) AS n FROM deliveries")[0]["n"] == 0
    store.close()


def test_pending_deliveries_are_never_pruned(tmp_path, vendor):
    clock = FakeClock()
    env = {"QYWX_KEY": "key_wb_test", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"}
    engine = Engine(env, Outbox(None), clock)
    store = SqliteHistory(tmp_path / FILE_NAME, Retention(days=1, max_deliveries=1), clock)
    engine.observers.append(store)
    engine.submit("t", "c")  # never pumped: queued
    clock.now += 5 * 86400
    store.sync()
    store.prune()
    assert [r["state"] for r in store.query("SELECT state FROM deliveries")] == ["queued"]


def test_the_library_records_when_a_state_folder_is_set_and_only_then(vendor, tmp_path, monkeypatch):
    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false"}
    assert dispatch("t", "c", env).message_id is None
    state = tmp_path / "lib-state"
    result = dispatch("t", "c", {**env, "MCP_PUSH_STATE_DIR": str(state)})
    store = store_for({"MCP_PUSH_STATE_DIR": str(state)})
    [row] = store.query("SELECT * FROM deliveries")
    assert (row["message_id"], row["state"], row["channel"]) == (result.message_id, "delivered", "ntfy")
    assert store.query("SELECT origin FROM messages")[0]["origin"] == "library"
    # An event through the library: its run and kind.
    event = send_event({"run_id": "lib-run", "event": "start", "message": "go"}, env={**env, "MCP_PUSH_STATE_DIR":
                       str(state)}, runs=RunLog())
    assert run_view(store, message_id=event.message_id)["run_id"] == "lib-run"
    # MCP_PUSH_HISTORY=false records nothing.
    off = dispatch("t", "c", {**env, "MCP_PUSH_STATE_DIR": str(tmp_path / "off"), "MCP_PUSH_HISTORY": "false"})
    assert off.message_id is None and not (tmp_path / "off" / FILE_NAME).exists()


def test_a_folder_that_cannot_hold_the_history_loses_history_not_the_message(vendor, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = dispatch("t", "c", {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false",
                                 "MCP_PUSH_STATE_DIR": str(blocker / "state")})
    assert result["ntfy"].ok and result.message_id is None


def test_the_server_engine_records_in_the_state_folder_and_an_adopted_delivery_is_finished_by_its_row(
        vendor, tmp_path):
    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "a", "HITOKOTO": "false", "MCP_PUSH_STATE_DIR": str(tmp_path / "s")}
    first = watch(Engine(env, Outbox.for_source(env)), env)
    ticket = first.submit("t", "c")  # accepted, never sent: the process "dies"
    first.outbox.close()
    second = watch(Engine(env, Outbox.for_source(env)), env)
    assert history_of(second) is history_of(first)
    assert second.resume() == 1
    second.pump()
    [channel] = run_view(history_of(second), message_id=ticket.message_id)["channels"]
    assert (channel["state"], channel["delivered"]) == ("delivered", 1)
    second.close()


def test_the_database_is_private_and_in_wal_mode(tmp_path):
    store = SqliteHistory(tmp_path / "s" / FILE_NAME)
    store.record(Message("m", "message", None, "t", "c"), [], {})
    store.sync()
    assert (tmp_path / "s" / FILE_NAME).stat().st_mode & 0o077 == 0
    assert sqlite3.connect(tmp_path / "s" / FILE_NAME).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_the_writer_threads_batches_and_prune_pace():
    """history.drain and history.PrunePace, which both stores' writer threads use."""
    import queue as queue_module

    from mcp_push.service.history import BATCH_MAX, PrunePace, Retention, drain

    ops: queue_module.Queue = queue_module.Queue()
    for index in range(BATCH_MAX + 5):
        ops.put(index)
    records, stop = drain(ops, [ops.get()])
    assert (records, stop) == (list(range(BATCH_MAX)), False)
    ops.put(None)  # the store closes
    records, stop = drain(ops, [ops.get()])
    assert (records, stop) == ([BATCH_MAX + i for i in range(5)], True)
    assert drain(ops, []) == ([], False)  # a writer that waited for nothing takes nothing

    pace = PrunePace(Retention(7, 2000))  # a tenth of the max: every 200 records
    assert not pace.wrote(199) and pace.wrote(1)
    pace.pruned()
    assert not pace.wrote(150)
    assert PrunePace(Retention(7, 10)).wrote(100)  # at least 100 between prunes, however small the max
