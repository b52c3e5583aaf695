"""The MCP server's side of routing (service/routing_service.py, routing_state.py): held messages kept in
the state folder across restarts, a digest sent as one summary per instance, and the library refusing a
digest route; the lane of an instance is its credential's."""

from __future__ import annotations

import base64
import json
import time

import pytest

from mcp_push.api import dispatch
from mcp_push.lanekey import PROCESS_SALT, lane_key
from mcp_push.routed import when_text
from mcp_push.selection import configured_channels
from mcp_push.service.engine import Engine
from mcp_push.service.outbox import Outbox
from mcp_push.service.routing_service import RoutingService
from mcp_push.service.routing_state import RoutingStore

DIGEST = """\
channels:
  me: {type: ntfy, env: {NTFY_URL: "${VENDOR}", NTFY_TOPIC: me}}
routes:
  - to: [me]
    digest: {every: 10m, max: 50}
"""


@pytest.fixture
def digest_env(tmp_path, vendor):
    path = tmp_path / "mcp-push.yaml"
    path.write_text(DIGEST)
    return {"MCP_PUSH_CONFIG": str(path), "VENDOR": vendor.url, "HITOKOTO": "false"}


def test_a_digest_is_collected_and_sent_as_one_summary_with_a_line_per_message(digest_env, vendor, tmp_path):
    # Far enough ahead that the service's own thread (real time) never finds the window due.
    base = int(time.time()) + 100000
    engine = Engine(digest_env, Outbox(None)).start(resume=False)
    service = RoutingService(engine, RoutingStore(tmp_path / "routing.sqlite3"))
    try:
        for at, run_id, title in ((base, "build-1", "build 1 done"), (base + 60, "build-2", "build 2 done")):
            ticket = service.submit(digest_env, title, "details", kind="end", run_id=run_id, now=at)
            [held] = ticket.result().channels
            assert (held.channel, held.status) == ("me", "queued")
            assert held.error == f"route 1: digest every 10m: collected for a digest until {when_text(base + 600)}"
        assert vendor.received == []
        assert service.send_due(now=base + 599) == 0
        assert service.send_due(now=base + 600) == 1
        assert engine.drain(10)
    finally:
        engine.close()
    [summary] = vendor.received
    clock = [time.strftime("%H:%M:%S", time.gmtime(at)) for at in (base, base + 60)]
    assert summary.body.decode() == f"{clock[0]} build-1: build 1 done\n{clock[1]} build-2: build 2 done"
    assert summary.headers["Title"] == "=?utf-8?B?" + base64.b64encode(b"Digest: 2 messages").decode() + "?="


def test_held_messages_outlive_the_process_that_held_them(tmp_path):
    store = RoutingStore(tmp_path / "routing.sqlite3")
    store.hold("me", 100.0, "update", "r1", "10%", "c", "low", 1.0, slot="r1")
    store.hold("me", 100.0, "update", "r1", "20%", "c", "low", 2.0, slot="r1")  # the last one wins
    store.update(lambda state: {"decisions": [], "state": {"outcomes": {"r1": {"outcome": "failure", "at": 2.0}}}})
    store.close()
    again = RoutingStore(tmp_path / "routing.sqlite3")
    assert again.state() == {"outcomes": {"r1": {"outcome": "failure", "at": 2.0}}}
    assert again.take_due(99.0) == []
    assert [held.title for held in again.take_due(100.0)] == ["20%"]
    assert again.take_due(100.0) == []


def test_the_library_refuses_a_digest_route_and_sends_nothing(digest_env, vendor):
    result = dispatch("t", "c", digest_env)
    [refused] = result.channels
    assert (refused.channel, refused.status) == ("me", "config_error")
    assert refused.error == ("route 1: digest every 10m: digest routes need the MCP server (mcp-push serve), which "
                             "collects messages; this sends at once, so it is not sent")
    assert vendor.received == []


def test_instances_share_a_lane_only_when_they_share_a_credential(tmp_path):
    path = tmp_path / "mcp-push.yaml"
    path.write_text(json.dumps({"channels": {
        "a": {"type": "dingtalk", "env": {"DD_BOT_TOKEN": "tok_same_0001"}},
        "b": {"type": "dingtalk", "env": {"DD_BOT_TOKEN": "tok_same_0001"}},
        "c": {"type": "dingtalk", "env": {"DD_BOT_TOKEN": "tok_other_0002"}}}}))
    source = {"MCP_PUSH_CONFIG": str(path)}
    keys = {spec.name: lane_key(spec, env, PROCESS_SALT) for spec, env in configured_channels(source)}
    assert keys["a"] == keys["b"] != keys["c"]
    assert keys["a"].startswith("dingtalk:")


QUIET = """\
channels:
  me: {type: ntfy, env: {NTFY_URL: "${VENDOR}", NTFY_TOPIC: me}}
routes:
  - to: [me]
    quiet_hours: {from: "22:00", to: "07:00", except: [error], then: THEN}
"""


def quiet_env(tmp_path, vendor, then):
    path = tmp_path / "mcp-push.yaml"
    path.write_text(QUIET.replace("THEN", then))
    return {"MCP_PUSH_CONFIG": str(path), "VENDOR": vendor.url, "HITOKOTO": "false"}


def night():
    """23:00 UTC on a day far enough ahead that the service's own thread (real time) never finds it due, and
    07:00 UTC the morning after, when the quiet hours end."""
    day = (int(time.time()) // 86400 + 10) * 86400
    return day + 23 * 3600, day + 31 * 3600


def test_quiet_hours_hold_a_message_in_the_server_until_they_end_even_across_a_restart(tmp_path, vendor):
    env = quiet_env(tmp_path, vendor, "defer")
    at, morning = night()
    engine = Engine(env, Outbox(None)).start(resume=False)
    service = RoutingService(engine, RoutingStore(tmp_path / "routing.sqlite3"))
    try:
        [held] = service.submit(env, "build done", "all green", kind="end", run_id="b1", now=at).result().channels
        assert (held.channel, held.status) == ("me", "queued")
        hours = "route 1: quiet hours 22:00-07:00 UTC: held until they end"
        assert held.error == f"{hours}: held until {when_text(morning)}"
        # The route's `except: [error]`: an error is not held.
        [loud] = service.submit(env, "deploy failed", "exit 1", kind="error", run_id="d1", now=at).result().channels
        assert engine.drain(10)
        assert [r.body.decode() for r in vendor.received] == ["exit 1"]
        assert service.send_due(now=morning - 1) == 0
    finally:
        service.store.close()
        engine.close()
    # A new process (the held message lives in routing.sqlite3) sends it when the quiet hours end, once.
    engine = Engine(env, Outbox(None)).start(resume=False)
    service = RoutingService(engine, RoutingStore(tmp_path / "routing.sqlite3"))
    try:
        assert service.send_due(now=morning - 1) == 0
        assert service.send_due(now=morning) == 1
        assert engine.drain(10)
        assert service.send_due(now=morning + 60) == 0
    finally:
        service.store.close()
        engine.close()
    assert [r.body.decode() for r in vendor.received] == ["exit 1", "all green"]
    assert vendor.received[1].headers["Title"] == "=?utf-8?B?" + base64.b64encode(b"build done").decode() + "?="


def test_quiet_hours_with_then_drop_send_nothing_and_say_why(tmp_path, vendor):
    env = quiet_env(tmp_path, vendor, "drop")
    at, morning = night()
    engine = Engine(env, Outbox(None)).start(resume=False)
    service = RoutingService(engine, RoutingStore(tmp_path / "routing.sqlite3"))
    try:
        [dropped] = service.submit(env, "50%", "halfway", kind="update", run_id="b1", now=at).result().channels
        assert (dropped.channel, dropped.ok, dropped.status) == ("me", False, "skipped")
        assert dropped.error == "route 1: quiet hours 22:00-07:00 UTC"
        assert service.send_due(now=morning) == 0
        # Outside the quiet hours the same route sends at once.
        [sent] = service.submit(env, "60%", "more", kind="update", run_id="b1", now=morning).result().channels
        assert engine.drain(10)
    finally:
        service.store.close()
        engine.close()
    assert [r.body.decode() for r in vendor.received] == ["more"]
    assert (sent.channel, sent.status, sent.error) == ("me", "queued", None)
