"""One set of behaviour tests, run against both backends (backend.py): the embedded SQLite engine and the
PostgreSQL one (service/pg, a real PostgreSQL: pg_helpers.py). The same calls, the same vendor, the same
assertions; only the scheduling differs (lane threads pumped on a fake clock, procrastinate jobs run by a
worker pass in the test's thread, their schedule moved with the fake clock)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from mcp_push import result as R
from mcp_push import retry
from mcp_push.service import idempotency as idem
from mcp_push.service.engine import Engine
from mcp_push.service.history import FILE_NAME, Message, Retention, SqliteHistory
from mcp_push.service.outbox import Outbox
from mcp_push.service.run_status import delivery_rows, run_view
from mcp_push.service.status_tool import status_of
from mcp_push.service.watchers import history_of, watch

from .local_server import Behaviour
from .pg_helpers import fresh_schema, shift_schedule


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


class Harness:
    """An engine of one backend on a fake clock, and a second one on the same state (another replica)."""

    def __init__(self, kind: str, tmp_path, url: str | None):
        self.kind, self.tmp_path, self.url = kind, tmp_path, url
        self.clock = FakeClock()
        self.engines: list = []
        self.stores: list = []

    def engine(self, env: dict[str, str]):
        if self.kind == "sqlite":
            engine = Engine(env, Outbox(self.tmp_path / "outbox.sqlite3", self.clock), clock=self.clock)
        else:
            from mcp_push.service.pg.engine import PgEngine

            engine = PgEngine(env, self.url, clock=self.clock)
        self.engines.append(engine)
        return engine

    def engine_with_history(self, env: dict[str, str]):
        """An engine with the delivery history attached as `serve` attaches it (watchers.watch; PostgreSQL:
        pg/history.watch_pg), the history in the state folder or in the database."""
        env = {**env, "MCP_PUSH_STATE_DIR": str(self.tmp_path / "state")}
        engine = self.engine(env)
        if self.kind == "sqlite":
            return watch(engine, env)
        from mcp_push.service.pg.history import watch_pg

        return watch_pg(engine, env)

    def history_store(self, keep: Retention):
        """A history store of this backend on the fake clock (a second one on the same database: another replica)."""
        if self.kind == "sqlite":
            store = SqliteHistory(self.tmp_path / FILE_NAME, keep, self.clock)
        else:
            from mcp_push.service.pg.history import PgHistory

            store = PgHistory(self.url, keep, self.clock)
        self.stores.append(store)
        return store

    def raw_history(self) -> str:
        """Every row of the history's tables as stored, read past the store (what a look at the database shows)."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.tmp_path / "state" / FILE_NAME) as db:
                rows = [list(r) for table in ("messages", "deliveries")
                        for r in db.execute(f"SELECT * FROM {table}")]  # noqa: S608 - fixed names
        else:
            import psycopg

            with psycopg.connect(self.url) as conn:
                rows = [list(r) for table in ("mcp_push_history_messages", "mcp_push_history_deliveries")
                        for r in conn.execute(f"SELECT * FROM {table}")]  # noqa: S608 - fixed names
        return json.dumps(rows)

    def restart(self, engine) -> None:
        """The process of `engine` ends (its rows left unfinished, for the next one to take over)."""
        self.engines.remove(engine)
        engine.close()

    def advance(self, seconds: float) -> None:
        self.clock.now += seconds
        if self.url is not None:
            shift_schedule(self.url, seconds)

    def run_until(self, until: float) -> None:
        """Moves the fake clock to `until`, every engine sending what falls due on the way."""
        while True:
            waits = [w for w in (engine.pump() for engine in self.engines) if w is not None]
            if not waits or self.clock.now + min(waits) > until:
                break
            self.advance(max(min(waits), 1e-3))
        if until > self.clock.now:
            self.advance(until - self.clock.now)
        for engine in self.engines:
            engine.pump()

    def close(self) -> None:
        for engine in self.engines:
            engine.close()
        for store in self.stores:
            store.close()


@pytest.fixture(params=["sqlite", "postgres"])
def harness(request, tmp_path):
    if request.param == "postgres":
        schemas = fresh_schema()
        url = next(schemas)
    else:
        schemas, url = None, None
    made = Harness(request.param, tmp_path, url)
    yield made
    made.close()
    if schemas is not None:
        schemas.close()


def webhook(vendor) -> dict[str, str]:
    return {"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_CONTENT_TYPE": "application/json",
            "WEBHOOK_BODY": "title: $title\ncontent: $content", "HITOKOTO": "false"}


def wecom(vendor) -> dict[str, str]:
    # A WeCom group robot: 20 messages a minute (its spec's limits.rate).
    return {"QYWX_KEY": "key_wb_test", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"}


def titles(vendor) -> list[str]:
    return [json.loads(r.body)["title"] for r in vendor.received if r.status == 200]


def wecom_titles(vendor) -> list[str]:
    return [json.loads(r.body)["text"]["content"].split("\n\n")[0] for r in vendor.received]


def test_an_accepted_message_is_delivered_and_its_ticket_settles(harness, vendor):
    engine = harness.engine(webhook(vendor))
    ticket = engine.submit("hello", "world")
    assert [r.status for r in ticket.result()] == ["queued"]
    harness.run_until(harness.clock.now + 1)
    assert titles(vendor) == ["hello"]
    assert ticket.wait(5) and [r.status for r in ticket.result()] == ["delivered"]


def test_waiting_updates_coalesce_latest_wins_and_nothing_overtakes_its_run(harness, vendor):
    engine = harness.engine(webhook(vendor))
    start = engine.submit("start", "c", kind="start", run_id="r")
    updates = [engine.submit(f"update {i}", "c", kind="update", run_id="r") for i in range(1, 6)]
    other = engine.submit("other run", "c", kind="update", run_id="r2")
    harness.run_until(harness.clock.now + 1)
    assert titles(vendor) == ["start", "update 5", "other run"]
    assert start.wait(5) and all(t.wait(5) for t in updates)
    assert [t.result().channels[0].status for t in updates] == ["superseded"] * 4 + ["delivered"]
    engine.submit("update 6", "c", kind="update", run_id="r")
    engine.submit("end", "c", kind="end", run_id="r")
    harness.run_until(harness.clock.now + 1)
    assert titles(vendor)[3:] == ["end"]  # the end drops the update still waiting before it
    assert other.wait(5)


def test_start_end_and_error_are_never_refused_or_dropped_when_the_lane_is_full(harness, vendor):
    vendor.routes["/"] = Behaviour(status=503, body="down")  # nothing goes while the lane fills
    engine = harness.engine({**webhook(vendor), "MCP_PUSH_LANE_QUEUE_MAX": "2", "MCP_PUSH_RETRY_ATTEMPTS": "1"})
    statuses = [engine.submit(f"m{i}", "c").result().channels[0].status for i in range(3)]
    assert statuses == ["queued", "queued", "rejected"]
    kept = [engine.submit(kind, "c", kind=kind, run_id=run).result().channels[0].status
            for kind, run in (("start", "a"), ("end", "a"), ("error", "b"))]
    assert kept == ["queued"] * 3
    vendor.routes["/"] = Behaviour()
    harness.run_until(harness.clock.now + 1)
    assert sorted(t for t in titles(vendor)) == ["end", "error", "m0", "m1", "start"]
    assert titles(vendor).index("start") < titles(vendor).index("end")


def test_a_burst_at_a_20_per_minute_robot_stays_within_its_quota(harness, vendor):
    vendor.clock = harness.clock
    engine = harness.engine(wecom(vendor))
    t0 = harness.clock.now
    for index in range(30):
        engine.submit(f"m{index}", "c")
    engine.submit("end", "c", kind="end", run_id="r")
    harness.run_until(t0 + 240)
    times = [r.at for r in vendor.received]
    assert wecom_titles(vendor)[:30] == [f"m{i}" for i in range(30)] or "end" in wecom_titles(vendor)
    assert sorted(wecom_titles(vendor)) == sorted([f"m{i}" for i in range(30)] + ["end"])
    for index, at in enumerate(times):
        assert sum(1 for other in times[index:] if other < at + 60) <= 20


def test_a_retry_after_is_waited_for_then_the_message_is_delivered(harness, vendor, monkeypatch):
    vendor.clock = harness.clock
    # Retry waits pass on the fake clock: the embedded engine sleeps them, the PostgreSQL one reschedules.
    monkeypatch.setattr(retry, "PACE", retry.Pace(harness.advance, harness.clock, lambda: 0.5, harness.clock,
                                                  at_once=1))
    vendor.script = [Behaviour(status=429, body='{"errcode":45009,"errmsg":"slow down"}',
                               headers={"Retry-After": "7"})]
    engine = harness.engine(wecom(vendor))
    ticket = engine.submit("later", "c")
    harness.run_until(harness.clock.now + 60)
    assert [r.status for r in vendor.received] == [429, 200]
    assert vendor.received[1].at - vendor.received[0].at >= 7
    assert ticket.wait(5) and ticket.result().channels[0].status == "delivered"


def test_an_idempotency_key_claimed_on_one_replica_is_seen_by_another(harness, vendor):
    first, second = (harness.engine(webhook(vendor)).outbox.idempotency() for _ in range(2))
    assert first.claim("deploy-42") is None
    assert second.claim("deploy-42") == idem.PENDING
    first.finish("deploy-42", idem.Answer(202, '{"ok": true}'))
    assert second.claim("deploy-42") == idem.Answer(202, '{"ok": true}')
    assert second.claim("other") is None
    second.release("other")
    assert first.claim("other") is None


def test_a_runs_card_is_edited_not_reposted_whichever_replica_sends(harness, vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    env = {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77", "TG_API_HOST": vendor.url, "HITOKOTO": "false",
           "MCP_PUSH_EDIT_PROGRESS": "true"}
    replicas = [harness.engine(env), harness.engine(env)]
    for index, kind in enumerate(("start", "update", "update", "end")):
        replicas[index % 2].submit(kind, "c", kind=kind, run_id="r")
        harness.run_until(harness.clock.now + 5)
    paths = [r.path.rsplit("/", 1)[1] for r in vendor.received]
    # The end edits the card into its final state too (issue 16's one live run card).
    assert paths == ["sendMessage", "editMessageText", "editMessageText", "editMessageText"]
    assert json.loads(vendor.received[2].body)["message_id"] == 42


def test_an_end_waiting_behind_updates_of_other_runs_uses_the_headroom(harness, vendor):
    vendor.clock = harness.clock
    engine = harness.engine(wecom(vendor))
    for index in range(18):
        engine.submit(f"u{index}", "c", kind="update", run_id=f"run{index}")
    harness.run_until(harness.clock.now + 1)
    for index in range(5):
        engine.submit(f"late update {index}", "c", kind="update", run_id=f"late{index}")
    engine.submit("end", "c", kind="end", run_id="run3")
    harness.run_until(harness.clock.now + 1)
    assert wecom_titles(vendor)[-1] == "end"  # sent at once, past the waiting updates
    assert len(vendor.received) == 19
    harness.run_until(harness.clock.now + 120)
    assert sorted(wecom_titles(vendor)[19:]) == [f"late update {i}" for i in range(5)]


def ntfy_instances(vendor, tmp_path) -> dict[str, str]:
    """A routing config file (mcp-push.yaml) with two ntfy instances, each with its own topic and token."""
    path = tmp_path / "mcp-push.yaml"
    path.write_text(f"""\
channels:
  alerts: {{type: ntfy, env: {{NTFY_URL: "{vendor.url}", NTFY_TOPIC: alerts, NTFY_TOKEN: tk_alerts_0001}}}}
  ops: {{type: ntfy, env: {{NTFY_URL: "{vendor.url}", NTFY_TOPIC: ops, NTFY_TOKEN: tk_ops_0002}}}}
""")
    return {"MCP_PUSH_CONFIG": str(path), "HITOKOTO": "false"}


def test_a_delivery_taken_over_after_a_restart_keeps_its_priority_and_format(harness, vendor):
    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts", "HITOKOTO": "false"}
    first = harness.engine(env)
    first.submit("t", "urgent", priorities={"ntfy": "high"})
    first.submit("t", "routine")
    first.submit("t", "**bold**", format="markdown")
    harness.restart(first)  # killed before it sent anything: its rows wait for the next process
    harness.engine(env).resume()
    harness.run_until(harness.clock.now + 1)
    sent = {r.body.decode(): r.headers["Priority"] for r in vendor.received}
    assert sent == {"urgent": "4", "routine": "3", "**bold**": "3"}  # ntfy.yaml: high is 4; NTFY_PRIORITY's 3
    # The format is kept too: the Markdown one still says so.
    assert [r.headers.get("Markdown") for r in vendor.received] == [None, None, "yes"]


def test_a_named_instance_is_sent_with_its_own_settings(harness, vendor, tmp_path):
    engine = harness.engine(ntfy_instances(vendor, tmp_path))
    tickets = [engine.submit(f"to {name}", "c", channels=[name]) for name in ("ops", "alerts")]
    harness.run_until(harness.clock.now + 1)
    sent = sorted((r.path, r.headers["Authorization"]) for r in vendor.received)
    assert sent == [("/alerts", "Bearer tk_alerts_0001"), ("/ops", "Bearer tk_ops_0002")]
    assert [t.wait(5) and t.result().channels[0].status for t in tickets] == ["delivered", "delivered"]


def fake_retry_pace(harness, monkeypatch) -> None:
    """Retry waits pass on the fake clock (the embedded engine sleeps them, the PostgreSQL one reschedules the
    long ones); jitter's r is 0.5: the backoffs are 0.75, 1.5, 3 s (settings.yaml: 1 s doubled, jitter 0.5)."""
    monkeypatch.setattr(retry, "PACE", retry.Pace(harness.advance, harness.clock, lambda: 0.5, harness.clock,
                                                  at_once=1))


def test_retry_attempts_bound_the_tries_across_reschedules(harness, vendor, monkeypatch):
    vendor.clock = harness.clock
    fake_retry_pace(harness, monkeypatch)
    # Always "later": the PostgreSQL backend reschedules the job at each wait; the tries must still add up.
    vendor.routes["/"] = Behaviour(status=429, body='{"errcode":45009,"errmsg":"slow down"}',
                                   headers={"Retry-After": "7"})
    engine = harness.engine({**wecom(vendor), "MCP_PUSH_RETRY_ATTEMPTS": "3"})
    ticket = engine.submit("never", "c")
    harness.run_until(harness.clock.now + 600)
    assert [r.status for r in vendor.received] == [429, 429, 429]
    assert ticket.wait(5)
    result = ticket.result().channels[0]
    assert (result.status, result.attempts) == ("rejected", 3)
    assert result.error.endswith("(after 3 tries)")  # the tries of every run of the job, counted as one send


def test_tries_backoff_and_attempts_go_on_across_reschedules_as_in_one_send(harness, vendor, monkeypatch):
    vendor.clock = harness.clock
    fake_retry_pace(harness, monkeypatch)
    # "Later" in 7 s (the PostgreSQL backend reschedules the job), then down twice: the second backoff (1.5 s) is
    # slept through, the third (3 s) rescheduled; the backoff sequence goes on from the tries before each.
    vendor.script = [Behaviour(status=429, body='{"errcode":45009,"errmsg":"slow down"}', headers={"Retry-After": "7"}),
                     Behaviour(status=503, body="down"), Behaviour(status=503, body="down")]
    engine = harness.engine(wecom(vendor))
    ticket = engine.submit("later", "c")
    harness.run_until(harness.clock.now + 60)
    assert [r.status for r in vendor.received] == [429, 503, 503, 200]
    times = [r.at for r in vendor.received]
    assert [later - earlier for earlier, later in zip(times, times[1:], strict=False)] == [7, 1.5, 3]
    assert ticket.wait(5)
    result = ticket.result().channels[0]
    assert (result.status, result.attempts) == ("delivered", 4)


def test_retry_attempts_bound_the_message_s_tries_across_reschedules_when_each_run_fetches_a_token(
        harness, vendor, monkeypatch):
    from mcp_push.tokens import TOKENS

    vendor.clock = harness.clock
    fake_retry_pace(harness, monkeypatch)
    monkeypatch.setattr(TOKENS, "get", lambda key: None)  # each run on a replica that holds no token yet
    vendor.routes["/cgi-bin/gettoken"] = Behaviour(body='{"errcode":0,"access_token":"tok_wa_1","expires_in":7200}')
    vendor.routes["/cgi-bin/message/send"] = Behaviour(status=429, body='{"errcode":45009,"errmsg":"slow down"}',
                                                       headers={"Retry-After": "7"})
    engine = harness.engine({"QYWX_AM": "ww_corp_1,corp_secret_wa_2,@all,1000002", "QYWX_ORIGIN": vendor.url,
                             "HITOKOTO": "false", "MCP_PUSH_RETRY_ATTEMPTS": "2"})
    ticket = engine.submit("never", "c")
    harness.run_until(harness.clock.now + 600)
    # The token's fetch is no try of the message: the message is tried twice in all, whichever run fetched it.
    assert [r.status for r in vendor.received if r.path.startswith("/cgi-bin/message/send")] == [429, 429]
    assert ticket.wait(5)
    result = ticket.result().channels[0]
    assert result.status == "rejected" and result.error.endswith("(after 2 tries)")


def test_a_retry_deadline_passed_across_a_reschedule_gives_up_in_the_same_words(harness, vendor, monkeypatch):
    vendor.clock = harness.clock
    fake_retry_pace(harness, monkeypatch)
    # 50 s, then 20 s more: past settings.yaml's 60 s deadline, counted from the first try whichever run made it.
    vendor.script = [Behaviour(status=429, body='{"errcode":45009,"errmsg":"slow down"}', headers={"Retry-After": s})
                     for s in ("50", "20")]
    engine = harness.engine(wecom(vendor))
    ticket = engine.submit("never", "c")
    harness.run_until(harness.clock.now + 300)
    assert [r.status for r in vendor.received] == [429, 429]
    assert vendor.received[1].at - vendor.received[0].at == 50
    assert ticket.wait(5)
    result = ticket.result().channels[0]
    assert (result.status, result.attempts) == ("rejected", 2)
    assert result.error == "HTTP 429: slow down (not retried: waiting 20 s would pass the 60 s deadline)"


# --- the delivery history (history.py; PostgreSQL: pg/history.py, shared by every replica) -----------------

SECRET = "tok_9f8e7d6c5b4a3210"


def two_channels(vendor) -> dict[str, str]:
    """ntfy delivers; the webhook (its URL carries a secret token) is refused with an echo of that URL."""
    vendor.routes["/bad"] = Behaviour(status=400, body=json.dumps({"error": f"unknown token {SECRET}"}))
    return {"NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts", "WEBHOOK_URL": f"{vendor.url}/bad?token={SECRET}",
            "WEBHOOK_CONTENT_TYPE": "application/json", "WEBHOOK_BODY": "title: $title\ncontent: $content",
            "HITOKOTO": "false"}


def test_a_run_is_told_event_by_event_with_each_channels_final_state_by_another_replica(harness, vendor):
    env = two_channels(vendor)
    accepting, other = harness.engine_with_history(env), harness.engine_with_history(env)
    ids = []
    for kind, progress in (("start", None), ("update", 0.5), ("end", None)):
        ticket = accepting.submit(f"build {kind}", "text", kind=kind, run_id="build-7",
                                  note={"step": "tests", "progress": progress, "message": f"{kind} now"})
        ids.append(ticket.message_id)
        harness.run_until(harness.clock.now + 1)
    history_of(accepting).sync()  # what the accepting replica and the worker wrote is in
    status, is_error = status_of(other, "build-7", None, 50)  # notify_status on the other replica
    assert not is_error
    assert (status["state"], status["events_total"], status["last_event"], status["progress"]) == (
        "ended", 3, "end", 0.5)
    assert [(e["event"], e["message_id"], e["step"]) for e in status["events"]] == [
        ("start", ids[0], "tests"), ("update", ids[1], "tests"), ("end", ids[2], "tests")]
    channels = {c["channel"]: c for c in status["channels"]}
    assert (channels["ntfy"]["state"], channels["ntfy"]["delivered"], channels["ntfy"]["error"]) == (
        "delivered", 3, None)
    webhook = channels["webhook"]
    assert (webhook["state"], webhook["failed"], webhook["http_status"]) == ("failed", 3, 400)
    assert "unknown token" in webhook["error"] and SECRET not in json.dumps(status)
    assert {d["channel"]: (d["state"], d["outcome"], d["attempts"]) for d in status["events"][2]["deliveries"]} == {
        "ntfy": ("delivered", "delivered", 1), "webhook": ("failed", "rejected", 1)}
    assert run_view(history_of(other), message_id=ids[0])["run_id"] == "build-7"
    assert [(r["channel"], r["state"]) for r in delivery_rows(history_of(other), failed=True)] == [
        ("webhook", "failed")] * 3


def test_nothing_unmasked_is_written_to_the_history(harness, vendor):
    engine = harness.engine_with_history(two_channels(vendor))
    engine.submit(f"deploy {SECRET}", f"with {SECRET}", kind="start", run_id="r",
                  note={"step": f"step {SECRET}", "message": f"note {SECRET}"})
    harness.run_until(harness.clock.now + 1)
    history_of(engine).sync()
    stored = harness.raw_history()
    assert "unknown token" in stored and "deploy" in stored  # the rows are there
    assert SECRET not in stored


def test_superseded_updates_are_skipped_in_the_history_and_the_newest_delivered(harness, vendor):
    engine = harness.engine_with_history(webhook(vendor))
    engine.submit("start", "c", kind="start", run_id="r")
    harness.run_until(harness.clock.now + 1)
    first = engine.submit("u1", "c", kind="update", run_id="r")
    second = engine.submit("u2", "c", kind="update", run_id="r")
    harness.run_until(harness.clock.now + 1)
    events = {e["message_id"]: e for e in run_view(history_of(engine), run_id="r")["events"]}
    [older] = events[first.message_id]["deliveries"]
    assert (older["state"], older["outcome"]) == ("skipped", "superseded")
    [newer] = events[second.message_id]["deliveries"]
    assert newer["state"] == "delivered"
    [channel] = run_view(history_of(engine), run_id="r")["channels"]
    assert (channel["state"], channel["delivered"], channel["skipped"]) == ("delivered", 2, 1)


def test_a_retrying_delivery_shows_its_last_error_and_when_the_next_try_is_due(harness, vendor, monkeypatch):
    vendor.clock = harness.clock
    seen = []
    engine = harness.engine_with_history(wecom(vendor))

    def sleep(seconds: float) -> None:  # the embedded engine sleeps between tries: what the history says then
        seen.append(run_view(history_of(engine), message_id=ticket.message_id)["channels"][0])
        harness.advance(seconds)

    monkeypatch.setattr(retry, "PACE", retry.Pace(sleep, harness.clock, lambda: 0.5, harness.clock, at_once=1))
    vendor.script = [Behaviour(status=429, body='{"errcode":45009,"errmsg":"slow down"}',
                               headers={"Retry-After": "7"})]
    ticket = engine.submit("later", "c")
    assert run_view(history_of(engine), message_id=ticket.message_id)["channels"][0]["state"] == "queued"
    engine.pump()
    if not seen:  # PostgreSQL rescheduled the job rather than sleeping: the history says so meanwhile
        seen.append(run_view(history_of(engine), message_id=ticket.message_id)["channels"][0])
    [during] = seen
    assert during["state"] == "retrying" and "slow down" in during["error"] and during["next_at"] is not None
    harness.run_until(harness.clock.now + 60)
    final = run_view(history_of(engine), message_id=ticket.message_id)["channels"][0]
    assert (final["state"], final["error"], final["next_at"]) == ("delivered", None, None)


def test_a_delivery_held_by_the_quota_says_when_it_will_go(harness, vendor):
    vendor.clock = harness.clock
    engine = harness.engine_with_history(wecom(vendor))
    tickets = [engine.submit("t", f"message {i}") for i in range(22)]
    harness.run_until(harness.clock.now + 1)
    states = [run_view(history_of(engine), message_id=t.message_id)["channels"][0] for t in tickets]
    sent = len(vendor.received)  # the window's room (it keeps some for runs' ends and errors)
    assert 0 < sent < 22 and [s["state"] for s in states] == ["delivered"] * sent + ["queued"] * (22 - sent)
    assert states[sent]["next_at"] is not None  # the first one held knows when the window has room
    harness.run_until(harness.clock.now + 120)
    assert [run_view(history_of(engine), message_id=t.message_id)["channels"][0]["state"] for t in tickets] == [
        "delivered"] * 22


def delivered(message_id: str, at: float) -> Message:
    return Message(message_id, "message", None, "t", "c", created=at)


def test_the_history_keeps_the_newest_max_drops_what_is_older_than_the_days_and_never_a_pending_one(harness):
    store = harness.history_store(Retention(days=1, max_deliveries=10))
    from mcp_push.service.delivery import Delivery

    pending = Delivery(0, "lane", "ntfy", "message", None, "t", "c", message_id="waiting")
    store.accepted(delivered("waiting", harness.clock.now), [pending], {})  # never sent: queued
    for i in range(30):
        harness.clock.now += 60
        store.record(delivered(f"m{i}", harness.clock.now), [R.ChannelResult("ntfy", True, R.DELIVERED)], {})
    store.sync()
    store.prune()
    kept = store.query("SELECT message_id FROM deliveries ORDER BY id")
    assert [r["message_id"] for r in kept] == ["waiting"] + [f"m{i}" for i in range(20, 30)]
    assert store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"] == 10
    harness.clock.now += 2 * 86400
    store.prune()
    assert [r["state"] for r in store.query("SELECT state FROM deliveries")] == ["queued"]


def test_a_failed_delivery_is_claimed_for_a_retry_once_across_replicas(harness):
    first, second = harness.history_store(Retention(7, 100)), harness.history_store(Retention(7, 100))
    first.record(Message("m1", "message", None, "deploy", "failed", created=harness.clock.now),
                 [R.ChannelResult("ntfy", False, R.REJECTED, "no"), R.ChannelResult("bark", True, R.DELIVERED)], {})
    first.sync()
    [failed] = second.query("SELECT id FROM deliveries WHERE state = 'failed'")
    [ok] = second.query("SELECT id FROM deliveries WHERE state = 'delivered'")
    claimed = second.claim_retry(failed["id"], "m2")
    assert (claimed["channel"], claimed["title"], claimed["content"]) == ("ntfy", "deploy", "failed")
    assert first.claim_retry(failed["id"], "m3") is None  # claimed once, whichever replica asks
    assert first.claim_retry(ok["id"], "m4") is None  # a delivered one is never sent again
    assert first.query("SELECT retried_by FROM deliveries WHERE id = ?", (failed["id"],)) == [{"retried_by": "m2"}]


def test_a_failed_delivery_retried_from_another_replicas_status_page_goes_again_once(harness, vendor):
    from mcp_push.service.status_page import retry_delivery

    vendor.script = [Behaviour(status=400, body="bad")]
    env = webhook(vendor)
    accepting, other = harness.engine_with_history(env), harness.engine_with_history(env)
    accepting.submit("deploy", "failed once")
    harness.run_until(harness.clock.now + 1)
    history_of(accepting).sync()
    [failed] = delivery_rows(history_of(other), failed=True)
    answer = retry_delivery(other, failed["id"])  # the page's Retry button, on the other replica
    assert answer["channel"] == "webhook"
    assert retry_delivery(accepting, failed["id"]) == {
        "error": f"delivery_id: {failed['id']} is not a failed delivery that was not retried yet"}
    harness.run_until(harness.clock.now + 1)
    assert titles(vendor) == ["deploy"]  # the retry, delivered; the first try was refused
    history_of(other).sync()
    view = run_view(history_of(accepting), message_id=answer["message_id"])
    assert view["channels"][0]["state"] == "delivered"
    assert delivery_rows(history_of(accepting), failed=True)[0]["retried_by"] == answer["message_id"]


def test_with_the_history_off_nothing_is_attached_and_notify_status_says_so(harness, vendor):
    engine = harness.engine_with_history({**webhook(vendor), "MCP_PUSH_HISTORY": "false"})
    engine.submit("hello", "world")
    harness.run_until(harness.clock.now + 1)
    assert titles(vendor) == ["hello"] and history_of(engine) is None
    status, is_error = status_of(engine, None, "anything", 50)
    assert is_error and status["error"] == "history: the delivery history is off (MCP_PUSH_HISTORY=false)"


# --- pending questions (asking/store.py's AskStore: SQLite, service/pg/asks.py) ------------------------------


class AskStores:
    """Stores of one backend: `open()` is another replica's (another process on the folder, another pool on
    the database)."""

    def __init__(self, kind: str, tmp_path, url: str | None):
        self.kind, self.tmp_path, self.url = kind, tmp_path, url
        self.made: list = []

    def open(self):
        if self.kind == "sqlite":
            from mcp_push.asking.store import SqliteAskStore

            store = SqliteAskStore(self.tmp_path)
        else:
            from mcp_push.service.pg.asks import PgAskStore
            from mcp_push.service.pg.state import PgState

            store = PgAskStore(PgState(self.url, max_size=4))
        self.made.append(store)
        return store

    def raw(self) -> bytes:
        """Everything the backend keeps of the questions, as bytes (for what must never be in it)."""
        if self.kind == "sqlite":
            return b"".join(p.read_bytes() for p in sorted(self.tmp_path.iterdir()) if p.name.startswith("ask"))
        import psycopg

        with psycopg.connect(self.url) as conn:
            return b"".join(json.dumps(conn.execute(f"SELECT * FROM {table}").fetchall(),  # noqa: S608 - our names
                                       default=str).encode()
                            for table in ("mcp_push_asks", "mcp_push_ask_tokens", "mcp_push_ask_audit",
                                          "mcp_push_ask_cursors"))

    def close(self) -> None:
        for store in self.made:
            store.close()
            if self.kind == "postgres":
                store.state.close()


@pytest.fixture(params=["sqlite", "postgres"])
def ask_stores(request, tmp_path):
    schemas = fresh_schema() if request.param == "postgres" else None
    made = AskStores(request.param, tmp_path, next(schemas) if schemas is not None else None)
    yield made
    made.close()
    if schemas is not None:
        schemas.close()


def a_question(ask_id: str, now: float, timeout: float = 60.0, channels=("telegram", "webhook"), options=("yes", "no")):
    from mcp_push.asking.store import AnswerToken, Ask, new_token

    ask = Ask(id=ask_id, question="Deploy?", options=list(options), created=now, expires=now + timeout,
              default="no", run_id="r1", channels=list(channels))
    tokens = [AnswerToken(new_token(), ask_id, "webhook", i) for i in range(len(options))]
    return ask, tokens


def test_a_question_asked_on_one_replica_is_found_by_its_token_on_another(ask_stores):
    from mcp_push.asking.store import PENDING

    first, second = ask_stores.open(), ask_stores.open()
    ask, tokens = a_question("a1", 1_800_000_000.0)
    first.create(ask, tokens)
    found = second.lookup(tokens[1].token)
    assert found is not None
    assert (found[0].id, found[0].status, found[0].options, found[0].channels) == ("a1", PENDING, ["yes", "no"],
                                                                                 ["telegram", "webhook"])
    assert (found[1].ask_id, found[1].channel, found[1].option) == ("a1", "webhook", 1)
    assert second.lookup(tokens[1].token[:-2] + "AA") is None
    assert second.get("a1") == first.get("a1") and second.get("nope") is None
    # Tokens are kept as digests only: a copy of the database answers nothing.
    assert not any(t.token.encode() in ask_stores.raw() for t in tokens)


def test_the_first_answer_wins_and_later_ones_and_replays_are_refused(ask_stores):
    from mcp_push.asking.store import ACCEPTED, ANSWERED, DONE, UNKNOWN, USED

    first, second = ask_stores.open(), ask_stores.open()
    now = 1_800_000_000.0
    ask, tokens = a_question("a2", now)
    other, other_tokens = a_question("a3", now)
    first.create(ask, tokens)
    first.create(other, other_tokens)
    won = second.answer("a2", "yes", "the link", "webhook", now + 1, tokens[0].token)
    assert won.status == ACCEPTED and (won.ask.status, won.ask.answer, won.ask.by, won.ask.at) == \
        (DONE, "yes", "the link", now + 1)
    late = first.answer("a2", "no", "@alice", "telegram", now + 2)
    assert late.status == ANSWERED and late.ask.answer == "yes"
    assert first.answer("a2", "no", "the link", "webhook", now + 2, tokens[1].token).status == USED
    assert first.answer("a2", "yes", "the link", "webhook", now + 2, tokens[0].token).status == USED
    assert first.answer("a2", "yes", "x", "webhook", now + 2, other_tokens[0].token).status == UNKNOWN
    assert first.answer("nope", "yes", "x", "telegram", now + 2).status == UNKNOWN
    assert second.get("a3").status == "pending"


def test_of_many_answers_at_once_from_several_replicas_exactly_one_is_accepted(ask_stores):
    import threading

    from mcp_push.asking.store import ACCEPTED

    stores = [ask_stores.open() for _ in range(3)]
    now = 1_800_000_000.0
    ask, _ = a_question("a4", now)
    stores[0].create(ask, [])
    start = threading.Barrier(6)
    outcomes: list = []

    def answer(i: int) -> None:
        start.wait()
        outcomes.append(stores[i % 3].answer("a4", f"answer {i}", f"user {i}", "telegram", now + 1))

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    accepted = [o for o in outcomes if o.status == ACCEPTED]
    assert len(outcomes) == 6 and len(accepted) == 1
    assert {o.ask.answer for o in outcomes} == {accepted[0].ask.answer} == {stores[1].get("a4").answer}


def test_a_question_times_out_at_its_deadline_and_an_answered_one_stays_answered(ask_stores):
    from mcp_push.asking.store import ACCEPTED, DONE, EXPIRED, TIMED_OUT

    first, second = ask_stores.open(), ask_stores.open()
    now = 1_800_000_000.0
    for ask_id in ("late", "expired", "answered"):
        ask, tokens = a_question(ask_id, now, timeout=10)
        first.create(ask, tokens)
        if ask_id == "late":
            late_token = tokens[0].token
    assert second.answer("late", "yes", "the link", "webhook", now + 10, late_token).status == EXPIRED
    assert first.get("late").status == TIMED_OUT
    assert second.expire("expired", now + 10).status == TIMED_OUT
    assert first.answer("expired", "yes", "@alice", "telegram", now + 11).status == EXPIRED
    assert first.answer("answered", "yes", "@alice", "telegram", now + 9).status == ACCEPTED
    kept = second.expire("answered", now + 10)
    assert (kept.status, kept.answer) == (DONE, "yes")


def test_pending_lists_every_replica_s_open_questions_of_a_channel_newest_first(ask_stores):
    first, second = ask_stores.open(), ask_stores.open()
    now = 1_800_000_000.0
    for i, channels in enumerate([("telegram",), ("ntfy", "telegram"), ("matrix",), ("telegram",)]):
        ask, _ = a_question(f"p{i}", now + i, channels=channels)
        (first if i % 2 else second).create(ask, [])
    first.answer("p3", "yes", "@alice", "telegram", now + 5)
    second.set_channels("p2", ["matrix", "telegram"])
    assert [a.id for a in first.pending("telegram")] == ["p2", "p1", "p0"]
    assert [a.id for a in second.pending("ntfy")] == ["p1"]
    assert first.pending("webhook") == []


def test_the_audit_log_is_shared_by_the_replicas_and_holds_no_token(ask_stores):
    first, second = ask_stores.open(), ask_stores.open()
    ask, tokens = a_question("a5", 1_800_000_000.0)
    first.create(ask, tokens)
    first.audit("asked", ask)
    second.audit("answered", ask, answer="yes", by="@alice", channel="telegram")
    second.audit("ignored", None, channel="telegram", by="@mallory", where="42", reason="not an allowed sender")
    lines = (first if ask_stores.kind == "postgres" else second).read_audit()
    assert [(r["event"], r["ask_id"]) for r in lines] == [("asked", "a5"), ("answered", "a5"), ("ignored", None)]
    assert lines[0]["question"] == "Deploy?" and lines[0]["channels"] == ["telegram", "webhook"]
    assert (lines[1]["answer"], lines[1]["by"]) == ("yes", "@alice")
    assert not any(t.token.encode() in ask_stores.raw() for t in tokens)


def test_finished_questions_are_dropped_a_week_after_their_deadline(ask_stores):
    import time

    from mcp_push.asking.store import KEEP_SECONDS

    first = ask_stores.open()
    old, old_tokens = a_question("old", time.time() - KEEP_SECONDS - 100, timeout=10)
    first.create(old, old_tokens)
    assert first.get("old") is not None
    second = ask_stores.open()
    fresh, fresh_tokens = a_question("fresh", time.time())
    second.create(fresh, fresh_tokens)
    assert second.get("old") is None and second.lookup(old_tokens[0].token) is None
    assert second.get("fresh") is not None


def test_the_queue_depth_metric_counts_what_waits_in_each_lane_and_another_replica_sees_it(harness, vendor):
    """mcp_push_queue_depth: the lanes' queues in this process (SQLite); on PostgreSQL every replica's rows,
    so a replica that accepted nothing tells the backlog too (metrics.py, pg/state.queue_depths)."""
    from prometheus_client.parser import text_string_to_metric_families

    from mcp_push.service.metrics import EngineMetrics

    def depths(metrics) -> dict[tuple[str, str], float]:
        return {(s.labels["channel"], s.labels["lane"]): s.value
                for family in text_string_to_metric_families(metrics.exposition().decode())
                for s in family.samples if s.name == "mcp_push_queue_depth"}

    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "depth", "HITOKOTO": "false"}
    accepting = harness.engine(env)
    for i in range(3):
        accepting.submit("t", f"m{i}")
    [(channel, lane)] = depths(EngineMetrics(accepting))
    assert channel == "ntfy" and "depth" not in lane  # a salted hash, never the topic or a credential
    assert depths(EngineMetrics(accepting)) == {("ntfy", lane): 3}
    other = EngineMetrics(harness.engine(env))
    assert depths(other) == ({("ntfy", lane): 3} if harness.kind == "postgres" else {})
    harness.run_until(harness.clock.now + 5)
    assert len(vendor.received) == 3
    assert depths(EngineMetrics(accepting)).get(("ntfy", lane), 0) == 0
