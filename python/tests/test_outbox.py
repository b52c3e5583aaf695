"""The outbox file: a corrupt one does not stop the server; owners are told apart by host and heartbeat."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mcp_push.service import outbox as outbox_module
from mcp_push.service.outbox import Outbox

from .mcp_helpers import REPO, child_env

GARBAGE = b"this is not a database\n" * 200


def test_a_corrupt_outbox_is_moved_aside_and_the_server_starts_with_a_fresh_one(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "outbox.sqlite3").write_bytes(GARBAGE)
    server = subprocess.Popen([sys.executable, "-m", "mcp_push"], cwd=REPO,
                              env=child_env({"MCP_PUSH_STATE_DIR": str(state)}),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        server.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "corrupt-test", "version": "1"}}}).encode() + b"\n")
        server.stdin.flush()
        reply = json.loads(server.stdout.readline())
    finally:
        server.stdin.close()
        server.wait(15)
    stderr = server.stderr.read().decode()
    assert reply["result"]["serverInfo"]["name"] == "mcp-push", stderr
    [aside] = [p for p in state.iterdir() if p.name.startswith("outbox.sqlite3.corrupt-")]
    assert aside.read_bytes() == GARBAGE  # kept for a look, not deleted
    assert f"outbox: {state / 'outbox.sqlite3'} is not a readable outbox" in stderr
    assert f"moved it to {aside} and starting with an empty one" in stderr
    fresh = Outbox(state / "outbox.sqlite3")  # a working outbox took its place
    assert fresh.pending() == 0
    assert (state / "outbox.sqlite3").stat().st_mode & 0o077 == 0


def test_a_corrupt_outbox_does_not_stop_mcp_push_flush(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "outbox.sqlite3").write_bytes(GARBAGE)
    flushed = subprocess.run([sys.executable, "-m", "mcp_push", "flush"], cwd=REPO, capture_output=True, text=True,
                             env=child_env({"MCP_PUSH_STATE_DIR": str(state)}), timeout=60)
    assert flushed.returncode == 0, flushed.stderr
    assert "is not a readable outbox" in flushed.stderr and "Nothing to flush" in flushed.stderr


def test_a_pid_on_another_host_is_not_checked_here_but_a_silent_owner_there_is_gone(tmp_path, monkeypatch):
    path = tmp_path / "outbox.sqlite3"
    clock = [1000.0]
    peer = Outbox(path, lambda: clock[0])
    peer.heartbeat(5.0)
    peer.add("lane", "wecom_bot", "end", "r", "end", "c", {})
    # The peer runs in another container: this process's pid there is not this process.
    peer._db.execute("UPDATE owner_hosts SET host = 'other-host' WHERE owner = ?", (peer.owner,))
    outbox_module._LIVE_OWNERS.discard(peer.owner)
    here = Outbox(path, lambda: clock[0])
    clock[0] += 19  # silent for less than 4 of its 5 s beats: alive
    assert here.adopt() == []
    clock[0] += 2
    assert [row.kind for row in here.adopt()] == ["end"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies are read from /proc")
def test_a_killed_peer_its_parent_has_not_reaped_yet_is_gone():
    import signal
    import time

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert outbox_module._pid_alive(child.pid) is True
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while outbox_module._pid_alive(child.pid):  # a zombie until waited for: it still has its pid
            assert time.monotonic() < deadline, "a killed, unreaped child still counts as alive"
            time.sleep(0.02)
        assert child.poll() is not None  # it was a zombie, not gone from the process table
    finally:
        child.kill()
        child.wait()


def test_adopted_rows_come_back_as_the_engines_deliveries(tmp_path):
    """One type for a delivery (service/delivery.py): what the outbox stores is what the engine schedules."""
    from mcp_push.service.delivery import Delivery

    path = tmp_path / "outbox.sqlite3"
    dead = Outbox(path, lambda: 1234.5)
    row = dead.add("lane-a", "wecom_bot", "update", "r1", "title", "content", {"k": "v"})
    dead._db.execute("UPDATE owners SET pid = ? WHERE owner = ?", (2**22 + 12345, dead.owner))  # no such process
    outbox_module._LIVE_OWNERS.discard(dead.owner)
    [delivery] = Outbox(path).adopt()
    assert isinstance(delivery, Delivery)
    assert (delivery.row, delivery.created, delivery.lane, delivery.channel, delivery.kind, delivery.run_id,
            delivery.title, delivery.content, delivery.params) == (
        row, 1234.5, "lane-a", "wecom_bot", "update", "r1", "title", "content", {"k": "v"})
    assert delivery.result is None and not delivery.done.is_set()


def test_an_outbox_of_an_older_version_gains_the_priority_column_and_keeps_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "outbox.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(outbox_module.SCHEMA)  # the tables as they were: no priority column
    old.execute("INSERT INTO deliveries (owner, created, lane, channel, kind, run_id, title, content, params) "
                "VALUES ('gone', 1.0, 'lane', 'ntfy', 'message', NULL, 't', 'old', '{}')")
    old.commit()
    old.close()
    outbox = Outbox(path)
    outbox.add("lane", "ntfy", "message", None, "t", "new", {}, priority="high")
    taken = Outbox(path)  # the first one closed: its row and the old one are taken over
    outbox.close()
    assert [(d.content, d.priority) for d in taken.adopt()] == [("old", None), ("new", "high")]
