"""deliver.py: the targets of one channel go out at once, at most Pace.at_once (8) at a time, started in
planned order; the result is the one sending them one after another gives; a target that never answers
holds one place only."""

from __future__ import annotations

import select
import socket
import threading

import pytest

from mcp_push import dispatch, retry
from mcp_push.deliver import next_start

from .keepalive_server import KeepAliveServer, peer

IDS = [str(10001 + i) for i in range(20)]


def _env(server: KeepAliveServer, **extra: str) -> dict[str, str]:
    return {"CHRONOCAT_URL": f"http://127.0.0.1:{server.port}", "CHRONOCAT_QQ": ";".join(f"user_id={i}" for i in IDS),
            "CHRONOCAT_TOKEN": "chrono_tok_5f3a9c1e77", "HITOKOTO": "false", **extra}


def _answer(body: bytes) -> tuple[int, str]:
    return (400, f"bad target {peer(body)}") if peer(body) in ("10003", "10011") else (200, "{}")


def test_twenty_targets_go_eight_at_a_time_with_the_result_of_one_at_a_time(monkeypatch):
    def hold(body: bytes, connection) -> None:
        # Each reply waits until 8 requests are in flight (or every target has arrived), so that 9 at once
        # would show; the first failing target (10003) answers after the second (10011).
        server.wait_for(lambda s: s.in_flight >= 8 or len(s.bodies) == len(IDS))
        if peer(body) == "10003":
            server.wait_for(lambda s: any(peer(b) == "10011" for b in s.bodies) and s.in_flight <= 7)

    server = None

    def start(at_once):
        nonlocal server
        monkeypatch.setattr(retry, "PACE", retry.Pace(at_once=at_once))
        server = KeepAliveServer(answer=_answer, hold=hold if at_once > 1 else None).start()
        try:
            [result] = dispatch("t", "c", _env(server)).channels
            return {k: v for k, v in result.to_dict().items() if k != "elapsed_ms"}, server
        finally:
            server.stop()

    at_once, concurrent = start(8)
    one_by_one, sequential = start(1)
    assert concurrent.most_in_flight == 8
    assert sorted(concurrent.bodies) == sorted(sequential.bodies) and len(concurrent.bodies) == 20
    assert sorted(peer(b) for b in concurrent.bodies[:8]) == IDS[:8]  # the first 8 planned go first
    assert at_once == one_by_one
    assert at_once["error"].startswith("2 of 20 targets failed; first: ") and "10003" in at_once["error"]
    assert at_once["attempts"] == 20


def test_a_target_that_never_answers_does_not_hold_up_the_others(monkeypatch):
    gave_up = threading.Event()  # the client closed the hung request's connection: its timeout passed
    others_before = []

    def hold(body: bytes, connection: socket.socket) -> None:
        if peer(body) == "10001":  # never answers; waits for the client to give up
            while not select.select([connection], [], [], 0.05)[0]:
                pass
            gave_up.set()
        elif not gave_up.is_set():
            others_before.append(peer(body))

    monkeypatch.setattr(retry, "PACE", retry.Pace())
    server = KeepAliveServer(hold=hold).start()
    try:
        [result] = dispatch("t", "c", _env(server, MCP_PUSH_TIMEOUT="2")).channels
    finally:
        server.stop()
    assert result.status == "timeout"
    assert result.error.startswith("1 of 20 targets failed; first: no reply within")
    assert sorted(others_before) == IDS[1:]  # every other target reached the vendor while the first hung


@pytest.mark.parametrize(
    ("starts", "now", "rate", "wait"),
    [
        ([], 0.0, {"count": 2, "per_seconds": 10}, 0.0),
        ([0.0], 0.1, {"count": 2, "per_seconds": 10}, 0.0),
        ([0.0, 0.1], 0.2, {"count": 2, "per_seconds": 10}, 10.8),  # 10 s counted as 11 s
        ([0.0], 0.0, {"count": 100, "per_seconds": 60, "min_interval_seconds": 0.2}, 0.22),
        ([0.0, 5.0], 5.0, {"count": 2, "per_seconds": 60}, 57.0),  # a minute counted as 62 s from the first
    ],
)
def test_concurrent_starts_keep_to_the_spec_rate_with_the_lanes_margin(starts, now, rate, wait):
    assert next_start(starts, now, rate) == pytest.approx(wait)
