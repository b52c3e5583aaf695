"""The delivery history under load (issue 17): does it stay within MCP_PUSH_HISTORY_MAX, and does pruning
ever delay a delivery?

    python bench/history.py [--deliveries 150000] [--max 100000]

Feeds a history.sqlite3 in a temporary folder what the engine tells it for each delivery (accepted, then
settled: the two calls on the delivery path), as fast as one thread can, past the bound. Reports:

- rows kept (deliveries, messages) at every 10,000 and the most ever seen, the file size at the end;
- the time each delivery spends in the history's calls (p50, p99, max), overall and while a prune was
  running in the writer thread, beside how long each prune took: pruning runs on the writer thread,
  so a delivery's calls only queue a record and never wait for it.

No vendor is involved (the history is what is measured); nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from mcp_push import result as R  # noqa: E402
from mcp_push.config import EnvSnapshot  # noqa: E402
from mcp_push.service import history as H  # noqa: E402
from mcp_push.service.delivery import Delivery  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=150_000)
    parser.add_argument("--max", type=int, default=100_000)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="mcp-push-history-bench-"))
    store = H.SqliteHistory(folder / H.FILE_NAME, H.Retention(days=7, max_deliveries=args.max))
    pruning = threading.Event()
    prune_times: list[float] = []
    original = store.prune

    def timed_prune() -> int:  # the writer thread's prune, timed, and flagged while it runs
        pruning.set()
        started = time.perf_counter()
        try:
            return original()
        finally:
            prune_times.append(time.perf_counter() - started)
            pruning.clear()

    store.prune = timed_prune  # type: ignore[method-assign]
    source = EnvSnapshot({})  # as the engine passes it: the redactor is derived once per env
    ok = R.ChannelResult("ntfy", True, R.DELIVERED, attempts=1, elapsed_ms=40, http_status=200, parts=1)
    calls: list[float] = []
    during_prune: list[float] = []
    most_rows = 0
    checkpoints = []
    started = time.perf_counter()
    for i in range(args.deliveries):
        message = H.Message(H.new_message_id(), "update", f"run-{i // 100}", f"build {i}", "progress " * 8,
                            step="tests", progress=(i % 100) / 100)
        delivery = Delivery(i + 1, "ntfy:lane", "ntfy", "update", message.run_id, message.title, message.content,
                            message_id=message.message_id)
        t0 = time.perf_counter()
        store.accepted(message, [delivery], source)
        store.settled(delivery, ok)
        spent = time.perf_counter() - t0
        calls.append(spent)
        if pruning.is_set():
            during_prune.append(spent)
        if (i + 1) % 10_000 == 0:
            store.sync(60)
            rows = store.query("SELECT COUNT(*) AS n FROM deliveries")[0]["n"]
            messages = store.query("SELECT COUNT(*) AS n FROM messages")[0]["n"]
            most_rows = max(most_rows, rows)
            checkpoints.append((i + 1, rows, messages))
    feeding = time.perf_counter() - started
    store.sync(120)
    final = store.query("SELECT COUNT(*) AS n FROM deliveries")[0]["n"]
    size = sum(p.stat().st_size for p in folder.glob(H.FILE_NAME + "*"))
    store.close()

    print(f"fed {args.deliveries:,} deliveries in {feeding:.1f} s ({args.deliveries / feeding:,.0f}/s), "
          f"MCP_PUSH_HISTORY_MAX={args.max:,}")
    print("  after    deliveries kept  messages kept")
    for fed, rows, messages in checkpoints:
        print(f"  {fed:>7,}  {rows:>15,}  {messages:>13,}")
    print(f"most deliveries kept at a checkpoint: {most_rows:,}; at the end: {final:,}; "
          f"files: {size / 1e6:.1f} MB")
    us = 1e6
    print(f"history calls per delivery (accepted + settled): p50 {percentile(calls, .5) * us:.0f} µs, "
          f"p99 {percentile(calls, .99) * us:.0f} µs, max {max(calls) * us:.0f} µs")
    if during_prune:
        spread = (f"p50 {percentile(during_prune, .5) * us:.0f} µs, p99 {percentile(during_prune, .99) * us:.0f} µs, "
                  f"max {max(during_prune) * us:.0f} µs")
        print(f"  while a prune ran ({len(during_prune):,} deliveries): {spread}")
    if prune_times:
        print(f"prunes: {len(prune_times)}, each {statistics.median(prune_times) * 1000:.0f} ms median, "
              f"{max(prune_times) * 1000:.0f} ms max (on the writer thread)")


if __name__ == "__main__":
    main()
