"""engine.py, the MCP server's delivery engine, against a real local vendor: retries, rate limits, coalescing,
edit in place, the outbox, bounded lane queues. Rate limiting runs on a fake clock (Engine.pump), so a minute
of it takes no time."""

from __future__ import annotations

import json
import threading
import tracemalloc

import pytest

from mcp_push import dispatch
from mcp_push.service.engine import Engine, Lane
from mcp_push.service.outbox import Outbox
from mcp_push.service.ratelimit import RateLimiter, headroom
from mcp_push.specs import load_channels

from .local_server import Behaviour, VendorServer


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now


def wecom_env(vendor: VendorServer) -> dict[str, str]:
    # A WeCom group robot (20 messages/min) pointed at the local vendor.
    return {"QYWX_KEY": "key_wb_test", "QYWX_ORIGIN": vendor.url, "HITOKOTO": "false"}


def wecom_texts(vendor: VendorServer) -> list[str]:
    return [json.loads(r.body)["text"]["content"] for r in vendor.received]


def run_until(engine: Engine, clock: FakeClock, until: float) -> None:
    """Advances the fake clock to `until`, sending whatever becomes due on the way."""
    while True:
        wait = engine.pump()
        if wait is None or clock.now + wait > until:
            break
        clock.now += max(wait, 1e-6)
    clock.now = until
    engine.pump()


# --- retries ---------------------------------------------------------------------------------------------


def test_a_429_with_retry_after_then_200_is_delivered_after_two_attempts_waiting_as_asked(vendor, fake_retry_pace):
    # The retry waits on the fake clock (conftest), which records what it was asked to wait.
    vendor.script = [Behaviour(status=429, body='{"errcode":45009,"errmsg":"slow down"}',
                               headers={"Retry-After": "1"})]
    result = dispatch("t", "c", wecom_env(vendor))
    [channel] = result.channels
    assert (channel.ok, channel.attempts) == (True, 2)
    assert [r.status for r in vendor.received] == [429, 200]
    assert fake_retry_pace == [1.0]  # the second try went after the Retry-After the vendor asked for


def test_a_vendor_rejection_is_not_retried(vendor, fake_retry_pace):
    vendor.routes["/"] = Behaviour(body='{"errcode":93000,"errmsg":"invalid webhook url, hint: [x]"}')
    [channel] = dispatch("t", "c", wecom_env(vendor)).channels
    assert (channel.ok, channel.status, channel.attempts) == (False, "rejected", 1)
    assert fake_retry_pace == [] and len(vendor.received) == 1


def test_5xx_is_retried_with_doubling_backoff_until_attempts_run_out(vendor, fake_retry_pace):
    vendor.routes["/"] = Behaviour(status=503, body="busy")
    [channel] = dispatch("t", "c", wecom_env(vendor)).channels
    assert (channel.status, channel.attempts, channel.http_status) == ("rejected", 4, 503)
    assert fake_retry_pace == [1, 2, 4]
    assert channel.error.endswith("(after 4 tries)")


def test_a_refused_connection_is_retried_and_a_timeout_is_not(fake_retry_pace):
    refused = dispatch("t", "c", {"QYWX_KEY": "key_wb_refused_01", "QYWX_ORIGIN": "http://127.0.0.1:9",
                                  "HITOKOTO": "false"})
    assert (refused.channels[0].status, refused.channels[0].attempts) == ("network_error", 4)
    hanging = VendorServer(routes={"/": Behaviour(delay_s=1.5)}).start()
    try:
        timed_out = dispatch("t", "c", {**wecom_env(hanging), "MCP_PUSH_TIMEOUT": "0.3"})
    finally:
        hanging.stop()
    assert (timed_out.channels[0].status, timed_out.channels[0].attempts) == ("timeout", 1)


def test_retry_after_is_delta_seconds_or_an_imf_fixdate_exactly():
    from mcp_push.retry import RetryPolicy, retry_after
    from mcp_push.transports import Reply

    policy = RetryPolicy.for_spec(load_channels()["webhook"])

    def asked(value: str) -> float | None:
        return retry_after(Reply(503, "", {"retry-after": value}), policy, now=lambda: 1445412500.0)

    assert asked("Wed, 21 Oct 2015 07:28:30 GMT") == 10.0
    assert asked(" 7\t") == 7.0
    assert asked("Sat, 01 Jan 0050 00:00:00 GMT") == 0.0  # year 50, in the past
    neither = ["1.5", "-5", "Wed, 21 Oct 2015 09:28:30 +0200", "Wednesday, 21-Oct-15 07:28:30 GMT",
               "Wed Oct 21 07:28:30 2015", "wed, 21 oct 2015 07:28:30 gmt", "Sat, 29 Feb 2015 07:28:30 GMT",
               "Wed, 21 Oct 2015 24:00:00 GMT", "Wed, 21 Oct 2015 07:28:60 GMT", "Sat, 01 Jan 0000 00:00:00 GMT",
               "\u00a07", "\uff17", "soon"]
    assert [value for value in neither if asked(value) is not None] == []
    assert asked("9" * 400) == 2.0**31  # capped, as RFC 9111 caps one


# --- rate limits and coalescing -------------------------------------------------------------------------


def test_rate_limiter_window_headroom_and_min_interval():
    limiter = RateLimiter(20, 60, 0)
    for second in range(18):
        assert limiter.wait(float(second), 1, terminal=False) == 0
        limiter.record(float(second), 1)
    # Everything but an end or error may use 20 - 2; the other two slots stay for ends and errors.
    assert headroom(20) == 2
    assert limiter.wait(18.0, 1, terminal=False) == pytest.approx(62.0 - 18.0)  # 60 s + the 2 s margin
    assert limiter.wait(18.0, 1, terminal=True) == 0
    paced = RateLimiter(20, 60, 1.0)
    paced.record(100.0, 1)
    assert paced.wait(100.25, 1, terminal=True) == pytest.approx(0.85)  # 1 s + a tenth


def _delivery(row, kind, run="r1", title=None):
    from mcp_push.service.engine import Delivery

    return Delivery(row, "lane", "wecom_bot", kind, run, title or f"{kind}{row}", "c")


def test_lane_coalesces_updates_and_drops_them_at_the_end_without_reordering_a_run():
    lane = Lane("lane", load_channels()["wecom_bot"], None)
    start, first, second = _delivery(1, "start"), _delivery(2, "update"), _delivery(3, "update")
    other = _delivery(4, "update", run="r2")
    assert lane.add(start) == [] and lane.add(first) == [] and lane.add(other) == []
    assert lane.add(second) == [first]  # the newer update takes the older one's place in line
    assert [d.row for d in lane.queue] == [1, 3, 4]
    end = _delivery(5, "end")
    assert lane.add(end) == [second]
    assert [d.row for d in lane.queue] == [1, 4, 5]
    # r1's end may not overtake r1's start: the first eligible delivery is the start.
    assert lane.next_ready(0.0)[0] is start


def test_a_burst_to_a_20_per_minute_robot_stays_in_quota_and_the_end_is_not_held_back(vendor):
    clock = FakeClock()
    vendor.clock = clock
    engine = Engine(wecom_env(vendor), clock=clock)
    t0 = clock.now
    engine.submit("start", "begin", kind="start", run_id="burst")
    # 200 updates, one every 0.4 s (80 s), then the end.
    for index in range(1, 201):
        run_until(engine, clock, t0 + index * 0.4)
        engine.submit(f"update {index}", f"progress {index}", kind="update", run_id="burst")
    end_sent_at = t0 + 80.1
    run_until(engine, clock, end_sent_at)
    engine.submit("end", "done", kind="end", run_id="burst")
    run_until(engine, clock, t0 + 300)
    assert engine.drain(0)

    titles = [text.split("\n\n")[0] for text in wecom_texts(vendor)]
    times = [r.at for r in vendor.received]
    # At most 20 requests in any 60 s window, the first minute included.
    assert sum(1 for at in times if at < t0 + 60) <= 20
    for index, at in enumerate(times):
        assert sum(1 for other in times[index:] if other < at + 60) <= 20
    assert titles[0] == "start"
    assert titles[-1] == "end" and times[-1] - end_sent_at <= 3.0
    updates = [int(title.split()[1]) for title in titles if title.startswith("update")]
    assert updates == sorted(updates) and len(set(updates)) == len(updates)  # never an older one after a newer
    assert len(updates) >= 18  # the quota was used, not wasted
    assert engine.outbox.pending() == 0


def test_an_end_waiting_behind_updates_of_other_runs_uses_the_headroom(vendor):
    clock = FakeClock()
    vendor.clock = clock
    engine = Engine(wecom_env(vendor), clock=clock)
    for index in range(18):
        engine.submit(f"u{index}", "c", kind="update", run_id=f"run{index}")
        engine.pump()
    for index in range(5):
        engine.submit(f"late update {index}", "c", kind="update", run_id=f"late{index}")
    engine.submit("end", "c", kind="end", run_id="run3")
    engine.pump()
    assert wecom_texts(vendor)[-1].startswith("end")  # sent at once, past the waiting updates
    assert len(vendor.received) == 19


def test_memory_stays_flat_over_4000_update_events(vendor, tmp_path):
    # Measured from event 1,000 (caches warm) to 4,000: any per-event leak of 220 bytes or more (a kept
    # message, plan or row is far bigger) fails, the rate the 10,000-event version caught in 2.5 times the time.
    clock = FakeClock()
    engine = Engine(wecom_env(vendor), Outbox(tmp_path / "outbox.sqlite3", clock), clock=clock)
    tracemalloc.start()
    try:
        for index in range(4_000):
            engine.submit(f"update {index}", "x" * 200, kind="update", run_id=f"run{index % 10}")
            engine.pump()
            clock.now += 0.05
            if index == 1_000:
                baseline = tracemalloc.get_traced_memory()[0]
        grown = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert grown < 3_000 * 220, f"memory grew by {grown} bytes from event 1,000 to 4,000"
    assert engine.outbox.pending() <= 10  # one waiting update per run at most


# --- wait / accepted results and the threaded engine ------------------------------------------------------


def test_threaded_engine_returns_queued_at_once_and_final_results_on_wait(vendor, tmp_path):
    vendor.routes["/"] = Behaviour(delay_s=0.3, body='{"errcode":0,"errmsg":"ok"}')
    engine = Engine(wecom_env(vendor), Outbox(tmp_path / "o.sqlite3")).start()
    try:
        ticket = engine.submit("t", "c")
        assert [r.status for r in ticket.result()] == ["queued"]
        assert ticket.wait(5)
        assert [r.status for r in ticket.result()] == ["delivered"]
    finally:
        engine.close()


# --- edit in place --------------------------------------------------------------------------------------


def test_telegram_updates_edit_the_runs_message_and_the_end_replaces_the_progress(vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    env = {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77", "TG_API_HOST": vendor.url, "HITOKOTO": "false",
           "MCP_PUSH_EDIT_PROGRESS": "true"}
    clock = FakeClock()
    engine = Engine(env, clock=clock)
    for kind in ("start", "update", "update", "end"):
        engine.submit(kind, "c", kind=kind, run_id="r")
        clock.now += 5
        engine.pump()
    paths = [r.path.rsplit("/", 1)[1] for r in vendor.received]
    assert paths == ["sendMessage", "editMessageText", "editMessageText", "editMessageText"]
    edit = json.loads(vendor.received[1].body)
    assert edit["message_id"] == 42 and edit["chat_id"] == "77"


def test_ntfy_updates_replace_the_first_notification_by_its_id(vendor):
    vendor.routes["/"] = Behaviour(body='{"id":"Ab3dE","event":"message"}')
    env = {"NTFY_URL": vendor.url, "NTFY_TOPIC": "runs", "HITOKOTO": "false", "MCP_PUSH_EDIT_PROGRESS": "true"}
    engine = Engine(env)
    for kind in ("update", "update", "end"):
        engine.submit(kind, "c", kind=kind, run_id="r")
        engine.pump()
    assert [r.path for r in vendor.received] == ["/runs", "/runs/Ab3dE", "/runs/Ab3dE"]


def test_without_the_opt_in_updates_are_posted(vendor):
    vendor.routes["/"] = Behaviour(body='{"ok":true,"result":{"message_id":42}}')
    env = {"TG_BOT_TOKEN": "123:abc", "TG_USER_ID": "77", "TG_API_HOST": vendor.url, "HITOKOTO": "false"}
    clock = FakeClock()
    engine = Engine(env, clock=clock)
    for kind in ("start", "update"):
        engine.submit(kind, "c", kind=kind, run_id="r")
        clock.now += 5
        engine.pump()
    assert [r.path.rsplit("/", 1)[1] for r in vendor.received] == ["sendMessage", "sendMessage"]


# --- the outbox -----------------------------------------------------------------------------------------


def test_unfinished_deliveries_of_a_dead_owner_are_adopted_once(vendor, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    dead = Outbox(path)
    row = dead.add("lane", "wecom_bot", "end", "r", "end", "done", {})
    dead._db.execute("UPDATE owners SET pid = ? WHERE owner = ?", (2**22 + 12345, dead.owner))  # no such process
    alive = Outbox(path)
    alive.add("lane", "wecom_bot", "start", "r2", "start", "c", {})
    engine = Engine(wecom_env(vendor), Outbox(path))
    assert engine.resume() == 1  # the dead owner's row only; the live owner keeps its own
    engine.pump()
    assert wecom_texts(vendor) == ["end\n\ndone"]
    assert Engine(wecom_env(vendor), Outbox(path)).resume() == 0
    assert row > 0


def test_the_limiter_remembers_sends_across_restarts(vendor, tmp_path):
    clock = FakeClock()
    path = tmp_path / "outbox.sqlite3"
    first = Engine(wecom_env(vendor), Outbox(path, clock), clock=clock)
    for index in range(18):  # all but the 2 slots a minute kept for ends and errors
        first.submit(f"m{index}", "c")
    first.pump()
    assert len(vendor.received) == 18
    second = Engine(wecom_env(vendor), Outbox(path, clock), clock=clock)
    second.submit("one more", "c")
    clock.now += 30
    assert second.pump() is not None and len(vendor.received) == 18  # the minute is not over
    clock.now += 33  # past the minute and its 2 s margin
    second.pump()
    assert len(vendor.received) == 19


def test_outbox_off_keeps_nothing_on_disk(tmp_path):
    outbox = Outbox.for_source({"MCP_PUSH_OUTBOX": "false", "MCP_PUSH_STATE_DIR": str(tmp_path)})
    assert not outbox.durable and list(tmp_path.iterdir()) == []


def test_outbox_file_is_private(tmp_path):
    outbox = Outbox.for_source({"MCP_PUSH_STATE_DIR": str(tmp_path / "state")})
    assert outbox.durable
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0
    assert (tmp_path / "state" / "outbox.sqlite3").stat().st_mode & 0o077 == 0


def test_concurrent_submits_from_threads_all_arrive(vendor, tmp_path):
    engine = Engine({"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_CONTENT_TYPE": "text/plain",
                     "WEBHOOK_BODY": "$title $content", "HITOKOTO": "false"}, Outbox(tmp_path / "o.sqlite3")).start()
    try:
        threads = [threading.Thread(target=lambda i=i: engine.submit(f"m{i}", "c")) for i in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert engine.drain(10)
    finally:
        engine.close()
    assert len(vendor.received) == 50


def test_two_servers_on_one_state_folder_share_the_credentials_quota(vendor, tmp_path):
    clock = FakeClock()
    path = tmp_path / "outbox.sqlite3"
    first = Engine(wecom_env(vendor), Outbox(path, clock), clock=clock)
    second = Engine(wecom_env(vendor), Outbox(path, clock), clock=clock)
    for index in range(15):
        first.submit(f"a{index}", "c")
        second.submit(f"b{index}", "c")
    first.pump()
    second.pump()
    assert len(vendor.received) == 18  # not 18 each: both read every request from the outbox


def test_a_long_message_counts_every_part_against_the_quota(vendor):
    clock = FakeClock()
    engine = Engine(wecom_env(vendor), clock=clock)
    for index in range(16):
        engine.submit(f"m{index}", "c")
    engine.pump()
    engine.submit("long", "x" * 9000)  # 5 parts of a 2048-byte robot message
    engine.pump()
    assert len(vendor.received) == 16  # 16 + 5 would pass the 18 a minute leaves to non-terminal messages
    clock.now += 63  # the minute and its margin
    engine.pump()
    assert len(vendor.received) == 21


def test_a_newer_update_never_overtakes_a_newer_start_of_its_run():
    lane = Lane("lane", load_channels()["wecom_bot"], None)
    old_update, restart, new_update = _delivery(1, "update"), _delivery(2, "start"), _delivery(3, "update")
    lane.add(old_update)
    lane.add(restart)
    assert lane.add(new_update) == [old_update]
    assert [d.row for d in lane.queue] == [2, 3]


def test_an_owner_with_this_processs_pid_but_not_open_here_is_gone(vendor, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    earlier = Outbox(path)
    earlier.add("lane", "wecom_bot", "end", "r", "end", "done", {})
    from mcp_push.service import outbox as outbox_module

    outbox_module._LIVE_OWNERS.discard(earlier.owner)  # as if a process with this pid had died
    engine = Engine(wecom_env(vendor), Outbox(path))
    assert engine.resume() == 1
    assert engine.resume() == 0  # its own rows are never adopted twice


def test_a_database_error_does_not_stop_the_lane(vendor, tmp_path, monkeypatch):
    engine = Engine(wecom_env(vendor), Outbox(tmp_path / "o.sqlite3")).start()
    real_finish, failures = engine.outbox.finish, []

    def flaky_finish(ids):
        ids = list(ids)
        if ids and not failures:
            failures.append(1)
            raise RuntimeError("database is locked")
        return real_finish(ids)

    monkeypatch.setattr(engine.outbox, "finish", flaky_finish)
    try:
        first, second = engine.submit("one", "c"), engine.submit("two", "c")
        assert first.wait(5) and second.wait(5)
        assert engine.drain(5)
    finally:
        engine.close()
    assert [r.status for r in second.result()] == ["delivered"]
    assert len(vendor.received) == 2


# --- the MCP server's delivery engine: a lane's queue is bounded ---------------------------------------

def _capped_engine(vendor, limit: str | None):
    clock = FakeClock()
    vendor.clock = clock
    env = wecom_env(vendor) if limit is None else {**wecom_env(vendor), "MCP_PUSH_LANE_QUEUE_MAX": limit}
    return Engine(env, clock=clock), clock


def _statuses(ticket):
    return [(r.status, r.error) for r in ticket.result()]


QUEUE_FULL_5 = "queue full: 5 messages already wait for this channel (MCP_PUSH_LANE_QUEUE_MAX)"


def test_a_full_lane_refuses_new_plain_messages_and_updates_but_never_a_start_end_or_error(vendor):
    engine, clock = _capped_engine(vendor, "5")
    for index in range(18):  # the minute's quota for non-terminal messages is used up
        engine.submit(f"sent{index}", "c")
        engine.pump()
    waiting = [engine.submit(f"wait{index}", "c") for index in range(4)]
    progress = engine.submit("p1", "c", kind="update", run_id="r")  # the 5th waiting delivery
    assert all(_statuses(t) == [("queued", None)] for t in [*waiting, progress])
    assert engine.outbox.pending() == 5

    refused = engine.submit("one too many", "c")
    assert _statuses(refused) == [("rejected", QUEUE_FULL_5)]
    assert _statuses(engine.submit("new run's update", "c", kind="update", run_id="other")) == [
        ("rejected", QUEUE_FULL_5)]
    # An update with a waiting one to replace coalesces; a run's start, end and error always get in.
    newer = engine.submit("p2", "c", kind="update", run_id="r")
    assert _statuses(newer) == [("queued", None)] and _statuses(progress)[0][0] == "superseded"
    kept = [engine.submit(kind, "c", kind=kind, run_id=f"run-{kind}") for kind in ("start", "end", "error")]
    assert all(_statuses(t) == [("queued", None)] for t in kept)
    assert engine.outbox.pending() == 5 + 3  # the refused were never stored

    clock.now += 300
    while engine.pump() is not None:
        clock.now += 63
    texts = [json.loads(r.body)["text"]["content"].split("\n")[0] for r in vendor.received]
    assert "one too many" not in texts and "new run's update" not in texts
    assert {"wait0", "wait3", "p2", "start", "end", "error"} <= set(texts)
    assert engine.drain(0) and engine.outbox.pending() == 0


def test_the_default_cap_is_200_waiting_messages_per_lane(vendor):
    engine, _ = _capped_engine(vendor, None)
    tickets = [engine.submit(f"m{index}", "c") for index in range(250)]
    statuses = [_statuses(t)[0] for t in tickets]
    assert statuses[:200] == [("queued", None)] * 200
    assert set(statuses[200:]) == {
        ("rejected", "queue full: 200 messages already wait for this channel (MCP_PUSH_LANE_QUEUE_MAX)")}


def test_a_bad_cap_is_a_config_error_naming_the_variable(vendor):
    engine, _ = _capped_engine(vendor, "lots")
    [result] = engine.submit("t", "c").result()
    assert (result.status, result.error) == (
        "config_error", "MCP_PUSH_LANE_QUEUE_MAX: must be an integer of at least 1")
    assert engine.outbox.pending() == 0


def test_deliveries_taken_over_from_the_outbox_are_never_refused(vendor, tmp_path):
    path = tmp_path / "outbox.sqlite3"
    dead = Outbox(path)
    for index in range(8):
        dead.add("lane", "wecom_bot", "message", None, f"m{index}", "c", {})
    dead._db.execute("UPDATE owners SET pid = ? WHERE owner = ?", (2**22 + 12345, dead.owner))  # no such process
    engine = Engine({**wecom_env(vendor), "MCP_PUSH_LANE_QUEUE_MAX": "5"}, Outbox(path))
    assert engine.resume() == 8  # they were accepted once: the cap is for new messages


def test_a_retried_request_counts_against_the_lanes_quota(vendor):
    from .local_server import Behaviour

    engine, clock = _capped_engine(vendor, None)
    vendor.script = [Behaviour(status=503, body="busy")]  # the first message needs a second try
    for index in range(18):
        engine.submit(f"m{index}", "c")
    engine.pump()
    # 18 messages, 19 requests: the 18th message waits for the next window rather than be the 21st request.
    assert len(vendor.received) == 18
    assert [json.loads(r.body)["text"]["content"] for r in vendor.received[:2]] == ["m0\n\nc"] * 2
    clock.now += 63
    engine.pump()
    assert len(vendor.received) == 19 and engine.drain(0)


@pytest.mark.parametrize("text", ["0", "-3", "2.5", "lots", "１２", "1_0", "+5", "\u00a07"])
def test_the_queue_cap_must_be_a_whole_number_from_1(text):
    from mcp_push.config import ConfigError
    from mcp_push.service.engine import QUEUE_MAX_VAR, queue_max

    with pytest.raises(ConfigError, match=r"^MCP_PUSH_LANE_QUEUE_MAX: must be an integer of at least 1$"):
        queue_max({QUEUE_MAX_VAR: text})
    assert (queue_max({QUEUE_MAX_VAR: " 7 "}), queue_max({QUEUE_MAX_VAR: ""})) == (7, 200)  # empty: the default


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon", "１２", "1_0", "1e3", "\u00a07"])
def test_the_heartbeat_must_be_a_positive_number_of_seconds(text):
    from mcp_push.config import ConfigError
    from mcp_push.service.engine import HEARTBEAT_VAR, heartbeat_seconds

    def heartbeat_seconds_of(value):
        return heartbeat_seconds({HEARTBEAT_VAR: value})

    with pytest.raises(ConfigError, match=r"^MCP_PUSH_HEARTBEAT_SECONDS: must be a number of seconds above 0$"):
        heartbeat_seconds_of(text)
    assert (heartbeat_seconds_of("0.5"), heartbeat_seconds_of("\t2 ")) == (0.5, 2.0)
