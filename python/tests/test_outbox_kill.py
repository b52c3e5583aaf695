"""The MCP server killed mid-burst (SIGKILL, as a host ends a chat) loses nothing and sends nothing twice:
every accepted start, end and error reaches the vendor exactly once after a restart or `mcp-push flush`."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from .local_server import Behaviour
from .mcp_helpers import REPO, child_env, webhook_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


class StdioServer:
    """`python -m mcp_push` driven with raw JSON-RPC lines."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen([sys.executable, "-m", "mcp_push"], env=env, cwd=REPO,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.next_id = 1
        self.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "kill-test", "version": "1"}})
        self.notify("notifications/initialized")

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def notify(self, method: str) -> None:
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", "method": method}).encode() + b"\n")
        self.process.stdin.flush()

    def call(self, method: str, params: dict) -> dict:
        request_id, self.next_id = self.next_id, self.next_id + 1
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method,
                                             "params": params}).encode() + b"\n")
        self.process.stdin.flush()
        while True:
            message = self.lines.get(timeout=20)
            if message.get("id") == request_id:
                return message

    def event(self, run_id: str, event: str, message: str) -> dict:
        reply = self.call("tools/call", {"name": "notify_event",
                                         "arguments": {"run_id": run_id, "event": event, "message": message}})
        return reply["result"]["structuredContent"]


def delivered_messages(vendor) -> list[str]:
    return [json.loads(r.body)["content"].split("\n")[0] for r in vendor.received if r.status == 200]


def messages_at(vendor, path: str) -> list[str]:
    return [json.loads(r.body)["content"].split("\n")[0] for r in vendor.received
            if r.status == 200 and r.path == path]


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def burst_then_kill(vendor, env: dict[str, str]) -> list[str]:
    """Two runs' events; the vendor takes the first, then answers 503 (the server keeps retrying),
    and the server is killed while deliveries wait. Returns the messages whose events must arrive."""
    vendor.script = [Behaviour()]
    vendor.routes["/"] = Behaviour(status=503, body="maintenance")
    server = StdioServer(env)
    must_arrive = []
    for run_id, events in (("A", ["start", "update", "update", "update", "end"]), ("B", ["start", "error"])):
        for index, event in enumerate(events):
            message = f"{run_id}-{event}-{index}"
            accepted = server.event(run_id, event, message)
            assert accepted["ok"] is True, accepted
            if event != "update":
                must_arrive.append(message)
    wait_for(lambda: any(r.status == 503 for r in vendor.received))
    time.sleep(0.3)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    assert delivered_messages(vendor) == ["A-start-0"]
    vendor.routes["/"] = Behaviour(body="ok")  # the vendor is back
    return must_arrive


def assert_exactly_once(vendor, must_arrive: list[str]) -> None:
    delivered = delivered_messages(vendor)
    for message in must_arrive:
        assert delivered.count(message) == 1, f"{message}: {delivered}"
    assert len(delivered) == len(set(delivered)), delivered
    # Per run, order kept: A's start first and its end last.
    a_events = [m for m in delivered if m.startswith("A-")]
    assert a_events[0] == "A-start-0" and a_events[-1] == "A-end-4"


def test_killed_server_finishes_at_its_next_start(vendor, tmp_path):
    env = child_env({**webhook_env(vendor), "MCP_PUSH_STATE_DIR": str(tmp_path / "state")})
    must_arrive = burst_then_kill(vendor, env)
    restarted = StdioServer(env)
    try:
        wait_for(lambda: all(m in delivered_messages(vendor) for m in must_arrive))
        time.sleep(0.5)  # anything sent twice would arrive now
    finally:
        restarted.process.stdin.close()
        restarted.process.wait(15)
    assert_exactly_once(vendor, must_arrive)


def test_killed_server_is_finished_by_mcp_push_flush(vendor, tmp_path):
    env = child_env({**webhook_env(vendor), "MCP_PUSH_STATE_DIR": str(tmp_path / "state")})
    must_arrive = burst_then_kill(vendor, env)
    flushed = subprocess.run([sys.executable, "-m", "mcp_push", "flush", "--json"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert flushed.returncode == 0, flushed.stderr
    report = json.loads(flushed.stdout)
    assert report["delivered"] == report["total"] >= 3  # what the killed server had not finished
    assert_exactly_once(vendor, must_arrive)
    again = subprocess.run([sys.executable, "-m", "mcp_push", "flush"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "Nothing to flush" in again.stderr


def test_a_server_sharing_the_state_folder_takes_over_a_killed_peers_deliveries(vendor, tmp_path):
    """Two servers on one state folder; the one killed mid-burst had deliveries waiting on a vendor that
    answered 503. The survivor notices at a heartbeat (its pid is gone) and delivers them: no third
    process has to start."""
    state = {"MCP_PUSH_STATE_DIR": str(tmp_path / "state"), "MCP_PUSH_HEARTBEAT_SECONDS": "0.2"}
    vendor.routes["/killed"] = Behaviour(status=503, body="maintenance")
    vendor.routes["/survivor"] = Behaviour(body="ok")
    survivor = StdioServer(child_env({**webhook_env(vendor, "/survivor"), **state}))
    doomed = StdioServer(child_env({**webhook_env(vendor, "/killed"), **state}))
    try:
        must_arrive = []
        for run_id, events in (("A", ["start", "update", "end"]), ("B", ["start", "error"])):
            for index, event in enumerate(events):
                message = f"{run_id}-{event}-{index}"
                assert doomed.event(run_id, event, message)["ok"] is True
                if event != "update":
                    must_arrive.append(message)
        wait_for(lambda: any(r.path == "/killed" for r in vendor.received))
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait(10)
        # The peer's rows go out through the survivor (with its own settings: the lane follows the env).
        wait_for(lambda: all(m in messages_at(vendor, "/survivor") for m in must_arrive), timeout=30)
        assert survivor.event("C", "start", "C-start-0")["ok"] is True  # and it is still serving
        wait_for(lambda: "C-start-0" in messages_at(vendor, "/survivor"))
    finally:
        survivor.process.stdin.close()
        survivor.process.wait(15)
    delivered = messages_at(vendor, "/survivor")
    for message in must_arrive:
        assert delivered.count(message) == 1, delivered  # the killed server's tries were all answered 503
    assert [m for m in delivered if m.startswith("A-")][-1] == "A-end-2"


def test_a_request_in_flight_when_the_server_was_killed_counts_against_the_quota_after_restart(vendor, tmp_path):
    """WeCom's robot takes 20 a minute (18 for anything but an end or error). The server sends 17, the
    18th is on the wire when it is killed: the next process must count all 18, so it sends the 18th
    again only when the minute (and its margin) has passed."""
    from mcp_push.service.engine import Engine
    from mcp_push.service.outbox import Outbox

    from .test_engine import FakeClock, wecom_env, wecom_texts

    state = tmp_path / "state"
    vendor.script = [Behaviour(body='{"errcode":0,"errmsg":"ok"}')] * 17 + [Behaviour(delay_s=30)]
    server = StdioServer(child_env({**wecom_env(vendor), "MCP_PUSH_STATE_DIR": str(state)}))
    for index in range(18):
        reply = server.call("tools/call", {"name": "notify_send", "arguments": {"title": f"m{index}", "content": "c"}})
        assert reply["result"]["structuredContent"]["ok"] is True, reply
    wait_for(lambda: len(vendor.received) == 18)  # the 18th arrived; its answer never comes
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    with contextlib.closing(sqlite3.connect(state / "outbox.sqlite3")) as db:
        sent_at = sorted(at for (at,) in db.execute("SELECT at FROM sends"))
    assert len(sent_at) == 18  # the killed server recorded the one in flight too

    clock = FakeClock(time.time())
    vendor.clock = clock
    restarted = Engine(wecom_env(vendor), Outbox(state / "outbox.sqlite3", clock), clock=clock)
    [in_flight] = restarted.adopt()
    assert in_flight.title == "m17"
    wait = restarted.pump()
    assert len(vendor.received) == 18  # the quota is full: 17 answered and the one in flight
    # It goes when the first request of the minute leaves the window (60 s and the 2 s margin), counted from
    # when the killed server recorded it: arithmetic on recorded times, no wall-clock bound.
    assert clock.now + wait == pytest.approx(sent_at[0] + 62, rel=0, abs=1e-3)
    clock.now += wait
    restarted.pump()
    assert wecom_texts(vendor)[18] == "m17\n\nc"  # sent again (at least once): it may have arrived before
