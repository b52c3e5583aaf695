"""engine.py's handoff: a submit waits (briefly, without the GIL) for the idle lane threads it woke to take
their new deliveries, so the request starts before the caller (the server's event loop) builds its answer.
The waits here are made long so that nothing depends on how fast a thread is scheduled."""

from __future__ import annotations

import threading

from mcp_push.service.engine import HANDOFF_SECONDS, Engine
from mcp_push.service.outbox import Outbox

from .local_server import Behaviour


def _webhook_env(vendor) -> dict[str, str]:
    return {"WEBHOOK_URL": f"{vendor.url}/hook", "WEBHOOK_BODY": "title: $title\ncontent: $content",
            "WEBHOOK_CONTENT_TYPE": "application/json", "HITOKOTO": "false"}


def _idle_lane(engine: Engine):
    """The webhook lane after its first delivery: its thread waits for work."""
    first = engine.submit("first", "one")
    assert first.wait(10)
    [lane] = engine.lanes.values()
    assert engine.drain(10)
    return lane


def test_an_idle_lane_has_taken_the_new_delivery_when_submit_returns(vendor, tmp_path):
    vendor.routes["/hook"] = Behaviour(delay_s=0.5)  # the request stays on the wire while the test looks
    engine = Engine(_webhook_env(vendor), Outbox(tmp_path / "o.sqlite3")).start()
    try:
        lane = _idle_lane(engine)
        engine.handoff_seconds = 30.0
        ticket = engine.submit("second", "two")
        with engine._cond:
            taken = lane.busy and not lane.queue
        assert taken, "the lane thread had not taken the delivery when submit returned"
        assert [r.status for r in ticket.result()] == ["queued"]  # accepted at once, still
        assert ticket.wait(10)
        assert [r.status for r in ticket.result()] == ["delivered"]
        assert [r.path for r in vendor.received].count("/hook") == 2
    finally:
        engine.close()


def test_a_lane_thread_that_does_not_look_holds_submit_no_longer_than_the_bound(vendor, tmp_path):
    vendor.routes["/hook"] = Behaviour(delay_s=1.0)
    engine = Engine(_webhook_env(vendor), Outbox(tmp_path / "o.sqlite3")).start()
    try:
        lane = _idle_lane(engine)
        busy = engine.submit("busy", "the lane's thread is on the wire with this one")
        assert lane.busy or lane.queue
        # As if the thread were idle but never got to run: submit gives up waiting after the bound.
        with engine._cond:
            lane.idle = True
        engine.handoff_seconds = 0.05
        ticket = engine.submit("next", "waits its turn")
        assert [r.status for r in ticket.result()] == ["queued"]
        with engine._cond:
            assert lane.queue == [ticket.entries[0]]
            lane.idle = False
        assert busy.wait(10) and ticket.wait(10)
        assert [r.status for r in ticket.result()] == ["delivered"]
    finally:
        engine.close()


def test_no_handoff_without_lane_threads(vendor, tmp_path):
    # pump() drives the engine (the tests' fake clock, `mcp-push flush`): nothing to wait for.
    engine = Engine(_webhook_env(vendor), Outbox(tmp_path / "o.sqlite3"))
    ticket = engine.submit("t", "c")
    [lane] = engine.lanes.values()
    assert lane.looked is None and lane.queue == [ticket.entries[0]]
    engine.pump()
    assert [r.status for r in ticket.result()] == ["delivered"]
    assert HANDOFF_SECONDS <= 0.002  # a bound on the caller, not a pause


def test_a_message_to_one_lane_wakes_no_other_lanes_thread(vendor, tmp_path):
    vendor.routes["/"] = Behaviour(body='{"id":"m1","ok":true}')
    env = {**_webhook_env(vendor), "NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts"}
    engine = Engine(env, Outbox(tmp_path / "o.sqlite3")).start()
    looks: dict[str, int] = {}
    take = engine._take

    def counted_take(lane, now):
        looks[lane.spec.name] = looks.get(lane.spec.name, 0) + 1
        return take(lane, now)

    engine._take = counted_take  # what each lane's thread does whenever it wakes
    try:
        assert engine.submit("both", "lanes").wait(10) and engine.drain(10)
        assert set(looks) == {"webhook", "ntfy"}
        before = dict(looks)
        for i in range(3):
            assert engine.submit("webhook", f"only {i}", channels=["webhook"]).wait(10)
        assert engine.drain(10)
        assert looks["webhook"] > before["webhook"]
        assert looks["ntfy"] == before["ntfy"], "the ntfy lane's thread was woken for the webhook lane's messages"
    finally:
        engine.close()


def test_a_fan_out_does_not_wait_for_its_lanes(vendor, tmp_path):
    # Waiting for each lane of a fan-out would hold the answer behind every lane's planning.
    vendor.routes["/"] = Behaviour(body='{"id":"m1","ok":true}')
    env = {**_webhook_env(vendor), "NTFY_URL": vendor.url, "NTFY_TOPIC": "alerts"}
    engine = Engine(env, Outbox(tmp_path / "o.sqlite3")).start()
    try:
        assert engine.submit("both", "lanes").wait(10) and engine.drain(10)
        lanes = list(engine.lanes.values())
        with engine._cond:
            assert all(lane.idle for lane in lanes)
            for lane in lanes:  # their threads keep waiting on the old condition: they never look
                lane.wake = threading.Condition(engine._lock)
        engine.handoff_seconds = 0.2
        ticket = engine.submit("both", "again")
        assert [r.status for r in ticket.result()] == ["queued", "queued"]
        assert all(lane.looked is None for lane in lanes), "submit waited for a fan-out's lanes"
    finally:
        engine.close()
