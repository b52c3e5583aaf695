"""Throughput of the MCP server: `notify_event` calls over one stdio session, the webhook channel
pointed at a sink that answers 200 at once. Calls answered per second and deliveries that reached the
sink per second are counted separately: a server that answers once an event is accepted (an outbox)
answers faster than it delivers, and one that answers after delivery cannot."""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp_stdio import StdioSession, child_env, initialize_messages
from sink import SinkProcess

# How long to wait for deliveries still arriving after the last call was answered.
DRAIN_IDLE_S = 3.0
DRAIN_MAX_S = 60.0


@dataclass
class Throughput:
    events: int
    window: int
    calls_per_s: float
    deliveries_per_s: float
    delivered: int
    errors: int
    first_error: str | None
    peak_rss_mib: float | None
    seconds: float
    statuses: Counter[str] = field(default_factory=Counter)  # per-channel statuses in the replies


def events(total: int, runs: int) -> list[dict[str, Any]]:
    """`total` events across `runs` runs: start, updates with progress, end."""
    per_run = max(total // runs, 2)
    out = []
    for run in range(runs):
        run_id = f"bench-{run}"
        count = per_run if run < runs - 1 else total - per_run * (runs - 1)
        for i in range(count):
            if i == 0:
                out.append({"run_id": run_id, "event": "start", "message": "benchmark run started"})
            elif i == count - 1:
                out.append({"run_id": run_id, "event": "end", "message": "benchmark run finished",
                            "data": {"artifact_url": "https://example.com/report"}})
            else:
                out.append({"run_id": run_id, "event": "update", "message": f"step {i} done",
                            "data": {"step": f"step-{i}", "progress": round(i / count, 3)}})
    return out


def measure(total: int = 1000, runs: int = 10, window: int = 1) -> Throughput:
    """`window` calls in flight at once: 1 is an agent waiting for each result; more is a client that
    pipelines its calls."""
    # A state folder of its own: the server's durable outbox must neither be the user's (bench events
    # would later go to the user's real webhook) nor hold rows from an earlier run.
    with SinkProcess(0) as sink, tempfile.TemporaryDirectory(prefix="mcp-push-bench-state-") as state:
        env = child_env({"HITOKOTO": "false", "MCP_PUSH_STATE_DIR": state,
                         "WEBHOOK_URL": f"{sink.url}/hook/throughput", "WEBHOOK_CONTENT_TYPE": "application/json",
                         "WEBHOOK_BODY": "title: $title\ncontent: $content"})
        session = StdioSession([sys.executable, "-m", "mcp_push"], env)
        try:
            session.send(*initialize_messages())
            session.reply()
            calls = [
                {"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                 "params": {"name": "notify_event", "arguments": arguments}}
                for i, arguments in enumerate(events(total, runs))
            ]
            started = time.perf_counter()
            started_monotonic = time.monotonic()
            sent = answered = errors = 0
            first_error = None
            statuses: Counter[str] = Counter()
            last_reply = started
            while answered < total:
                while sent < total and sent - answered < window:
                    session.send(calls[sent])
                    sent += 1
                last_reply, message = session.reply()
                answered += 1
                failure = _failure(message, statuses)
                if failure:
                    errors += 1
                    first_error = first_error or failure
            rss = session.peak_rss_kib()
            arrivals = _drain(sink, total)
            rss = max(rss or 0, session.peak_rss_kib() or 0) or None
        finally:
            session.close()
    calls_s = last_reply - started
    delivery_s = (max(arrivals) - started_monotonic) if arrivals else float("nan")
    return Throughput(
        events=total, window=window, calls_per_s=total / calls_s,
        deliveries_per_s=len(arrivals) / delivery_s if arrivals else 0.0, delivered=len(arrivals),
        errors=errors, first_error=first_error, peak_rss_mib=rss / 1024 if rss else None,
        seconds=max(calls_s, delivery_s if arrivals else 0.0), statuses=statuses,
    )


# Outcomes that are not failures: accepted for later delivery, or replaced by a newer update of the
# same run before it was sent (an engine that coalesces progress updates reports those as errors).
NOT_FAILED = {"delivered", "queued", "superseded"}


def _failure(message: dict[str, Any], statuses: Counter[str]) -> str | None:
    """Why a call failed, or None; counts the per-channel statuses of its result."""
    if "error" in message:
        return str(message["error"].get("message"))[:200]
    result = message.get("result") or {}
    channels = (result.get("structuredContent") or {}).get("channels") or []
    statuses.update(str(c.get("status")) for c in channels if isinstance(c, dict))
    if result.get("isError") and not (channels and all(c.get("status") in NOT_FAILED for c in channels)):
        texts = [c.get("text", "") for c in result.get("content") or [] if isinstance(c, dict)]
        return (" ".join(texts) or "isError")[:200]
    return None


def _drain(sink: SinkProcess, expected: int) -> list[float]:
    """Arrival times at the sink, once `expected` arrived or none came for DRAIN_IDLE_S."""
    deadline = time.monotonic() + DRAIN_MAX_S
    last_count, last_change = -1, time.monotonic()
    while True:
        arrivals = sink.arrivals()
        now = time.monotonic()
        if len(arrivals) != last_count:
            last_count, last_change = len(arrivals), now
        if len(arrivals) >= expected or now - last_change > DRAIN_IDLE_S or now > deadline:
            return arrivals
        time.sleep(0.05)


# --- beside the SDK's floor (floor_server.py) ----------------------------------------------------------

FLOOR_SERVER = str(Path(__file__).resolve().with_name("floor_server.py"))


def _call(i: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": arguments}}


def floor_calls_per_s(total: int = 1000, runs: int = 10) -> float:
    """The bare SDK server's echo `notify_event`, the same events, one call at a time."""
    session = StdioSession([sys.executable, FLOOR_SERVER], child_env({}))
    try:
        session.send(*initialize_messages())
        session.reply()
        calls = [_call(i + 1, "notify_event", arguments) for i, arguments in enumerate(events(total, runs))]
        started = time.perf_counter()
        last = started
        for call in calls:
            session.send(call)
            last, message = session.reply()
            if "error" in message or (message.get("result") or {}).get("isError"):
                raise RuntimeError(f"the floor server failed a call: {str(message)[:300]}")
        return total / (last - started)
    finally:
        session.close()


def versus_floor(total: int, rounds: int) -> tuple[list[float], list[float], list[Throughput]]:
    """`rounds` rounds of: the floor server's calls/s, then mcp-push's (one call at a time, deliveries
    drained before the next round, so its background work does not slow the floor down)."""
    floors, ours, results = [], [], []
    for _ in range(rounds):
        floors.append(floor_calls_per_s(total))
        result = measure(total, runs=10, window=1)
        ours.append(result.calls_per_s)
        results.append(result)
    return floors, ours, results


def agent_to_vendor(calls: int = 200) -> tuple[list[float], list[float], str]:
    """Seconds from writing a tools/call to the sink having the request: mcp-push's `notify_send`
    (webhook channel) and the floor's `post`, alternately, one call at a time, each waiting for its
    reply and its arrival. Returns (mcp-push latencies, floor latencies, first problem or '')."""
    problem = ""
    with SinkProcess(0) as sink, tempfile.TemporaryDirectory(prefix="mcp-push-bench-state-") as state:
        ours_env = child_env({"HITOKOTO": "false", "MCP_PUSH_STATE_DIR": state,
                              "WEBHOOK_URL": f"{sink.url}/hook/latency", "WEBHOOK_CONTENT_TYPE": "application/json",
                              "WEBHOOK_BODY": "title: $title\ncontent: $content"})
        sessions = {
            "ours": StdioSession([sys.executable, "-m", "mcp_push"], ours_env),
            "floor": StdioSession([sys.executable, FLOOR_SERVER], child_env({"FLOOR_POST_URL": f"{sink.url}/floor"})),
        }
        latencies: dict[str, list[float]] = {"ours": [], "floor": []}
        tools = {"ours": "notify_send", "floor": "post"}
        try:
            for session in sessions.values():
                session.send(*initialize_messages())
                session.reply()
            arrived = 0
            for i in range(calls + 5):  # the first 5 of each untimed: first connection, first plan
                for who in (("ours", "floor") if i % 2 else ("floor", "ours")):
                    started = time.monotonic()
                    sessions[who].send(_call(i + 1, tools[who], {"title": "Bench", "content": f"call {i}"}))
                    arrivals = sink.wait_for(arrived + 1)
                    _, message = sessions[who].reply()
                    if len(arrivals) <= arrived:
                        problem = problem or f"{who}: call {i} did not reach the sink within 10 s"
                        continue
                    failure = _failure(message, Counter())
                    if failure:
                        problem = problem or f"{who}: {failure}"
                    arrived = len(arrivals)
                    if i >= 5:
                        latencies[who].append(arrivals[arrived - 1] - started)
                    time.sleep(0.005)  # let a delivery's bookkeeping finish before the next call
        finally:
            for session in sessions.values():
                session.close()
    return latencies["ours"], latencies["floor"], problem
