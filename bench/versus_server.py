"""Two versions of mcp-push's MCP server beside the SDK's floor (section 4b), paired: `notify_event`
calls/s, one call at a time, and agent call -> the vendor has the request (`notify_send` vs the floor's
`post`), with the floor server and both versions run in turn every round, so a busy machine slows all
alike. Prints medians and per-round ratios. Not part of `nox -s bench`: it answers "did this change to
the server help", on a machine too busy for absolute numbers.

    git archive main | tar -x -C /tmp/base            # the version to compare with, anywhere
    python bench/versus_server.py /tmp/base [--rounds 5] [--events 1000] [--calls 200]

Each version runs as `python -m mcp_push` from its own `python/` folder (PYTHONPATH), with this
interpreter and its packages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from mcp_stdio import StdioSession, child_env, initialize_messages
from sink import SinkProcess
from throughput import FLOOR_SERVER, _call, _drain, _failure, events

HERE = Path(__file__).resolve().parent


def _server_env(sink_url: str, state: str, folder: Path | None, hook: str) -> dict[str, str]:
    extra = {"HITOKOTO": "false", "MCP_PUSH_STATE_DIR": state, "WEBHOOK_URL": f"{sink_url}/hook/{hook}",
             "WEBHOOK_CONTENT_TYPE": "application/json", "WEBHOOK_BODY": "title: $title\ncontent: $content",
             "FLOOR_POST_URL": f"{sink_url}/floor"}
    if folder is not None:
        extra["PYTHONPATH"] = str(folder)
    return child_env(extra)


def _command(folder: Path | None) -> list[str]:
    return [sys.executable, FLOOR_SERVER] if folder is None else [sys.executable, "-m", "mcp_push"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def calls_per_s(folder: Path | None, total: int) -> tuple[float, float]:
    """One session: `total` notify_event calls, one at a time; deliveries drained before it ends.
    (calls/s, the server's CPU seconds per call, its deliveries included)."""
    tool = "notify_event"
    with SinkProcess(0) as sink, tempfile.TemporaryDirectory(prefix="mcp-push-bench-state-") as state:
        session = StdioSession(_command(folder), _server_env(sink.url, state, folder, "throughput"))
        try:
            session.send(*initialize_messages())
            session.reply()
            calls = [_call(i + 1, tool, arguments) for i, arguments in enumerate(events(total, 10))]
            cpu = _cpu_seconds(session.process.pid)
            started = last = time.perf_counter()
            for call in calls:
                session.send(call)
                last, message = session.reply()
                failure = _failure(message, Counter())
                if failure:
                    raise RuntimeError(f"{folder or 'floor'}: {failure}")
            if folder is not None:
                _drain(sink, total)
            cpu = _cpu_seconds(session.process.pid) - cpu
        finally:
            session.close()
    return total / (last - started), cpu / total


def latencies(subjects: dict[str, Path | None], calls: int) -> dict[str, list[float]]:
    """Seconds from writing a tools/call to the sink having its request, each subject in turn per call
    (the order rotating), the first 5 calls of each untimed."""
    out: dict[str, list[float]] = {name: [] for name in subjects}
    with SinkProcess(0) as sink, tempfile.TemporaryDirectory(prefix="mcp-push-bench-state-") as state:
        sessions = {}
        try:
            for index, (name, folder) in enumerate(subjects.items()):
                folder_state = str(Path(state) / str(index))
                sessions[name] = StdioSession(_command(folder), _server_env(sink.url, folder_state, folder, "latency"))
                sessions[name].send(*initialize_messages())
                sessions[name].reply()
            names = list(subjects)
            arrived = 0
            for i in range(calls + 5):
                order = names[i % len(names):] + names[:i % len(names)]
                for name in order:
                    tool = "post" if subjects[name] is None else "notify_send"
                    started = time.monotonic()
                    sessions[name].send(_call(i + 1, tool, {"title": "Bench", "content": f"call {i}"}))
                    arrivals = sink.wait_for(arrived + 1)
                    _, message = sessions[name].reply()
                    if len(arrivals) <= arrived:
                        raise RuntimeError(f"{name}: call {i} did not reach the sink within 10 s")
                    failure = _failure(message, Counter())
                    if failure:
                        raise RuntimeError(f"{name}: {failure}")
                    arrived = len(arrivals)
                    if i >= 5:
                        out[name].append(arrivals[arrived - 1] - started)
                    time.sleep(0.005)  # let a delivery's bookkeeping finish before the next call
        finally:
            for session in sessions.values():
                session.close()
    return out


def _ratio_text(ours: list[float], theirs: list[float]) -> str:
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path, help="the other version's checkout (its python/ is used)")
    parser.add_argument("--rounds", type=int, default=5, help="calls/s rounds (default 5)")
    parser.add_argument("--events", type=int, default=1000, help="notify_event calls per session (default 1000)")
    parser.add_argument("--calls", type=int, default=200, help="latency calls per subject (default 200)")
    parser.add_argument("--only", default="calls,latency", help="calls, latency or both (default)")
    args = parser.parse_args()
    subjects: dict[str, Path | None] = {"floor": None, "this checkout": HERE.parent / "python",
                                        "base": args.base.resolve() / "python"}
    only = {part.strip() for part in args.only.split(",")}
    if "calls" in only:
        rates: dict[str, list[float]] = {name: [] for name in subjects}
        cpus: dict[str, list[float]] = {name: [] for name in subjects}
        names = list(subjects)
        for round_ in range(args.rounds):
            for name in names[round_ % 3:] + names[:round_ % 3]:
                rate, cpu = calls_per_s(subjects[name], args.events)
                rates[name].append(rate)
                cpus[name].append(cpu)
        print(f"notify_event calls/s, one at a time, {args.events} calls, {args.rounds} rounds (medians; ratios "
              "per round):")
        for name, values in rates.items():
            print(f"  {name}: {statistics.median(values):.0f} calls/s, server CPU "
                  f"{statistics.median(cpus[name]) * 1e6:.0f} µs per call")
        print(f"  this checkout / floor: {_ratio_text(rates['this checkout'], rates['floor'])}; base / floor: "
              f"{_ratio_text(rates['base'], rates['floor'])}; this / base: "
              f"{_ratio_text(rates['this checkout'], rates['base'])}")
    if "latency" in only:
        lat = latencies(subjects, args.calls)
        p50 = {name: statistics.median(values) for name, values in lat.items()}
        print(f"agent call -> the vendor has the request, {args.calls} calls each, in turn:")
        for name, value in p50.items():
            p90 = statistics.quantiles(lat[name], n=10)[-1]
            print(f"  {name}: p50 {value * 1000:.2f} ms, p90 {p90 * 1000:.2f} ms")
        print(f"  p50 this checkout / floor: {p50['this checkout'] / p50['floor']:.2f}; base / floor: "
              f"{p50['base'] / p50['floor']:.2f}")


if __name__ == "__main__":
    main()
