"""Fan-out latency, Python side, run by bench/run.py in a child process: one warm-up send, then RUNS
timed sends to N channels on the sink; prints {walls, failed, channels} as one JSON line.

    python bench/fanout.py mcp-push|apprise|apprise-async SINK_URL N RUNS
    python bench/fanout.py environ - N RUNS            # the channels configured in os.environ (N of them)
    python bench/fanout.py targets SINK_URL N RUNS     # one Chronocat channel with N QQ ids (the warm-up: one id)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from channels import FANOUT_CHANNELS, apprise_urls, chronocat_targets_env, fanout_env  # noqa: E402


def mcp_push_sender(url: str, n: int) -> Callable[[int], list[str]]:
    from mcp_push import dispatch

    env = fanout_env(url, list(FANOUT_CHANNELS)[:n]) if url != "-" else dict(os.environ)

    def send(i: int) -> list[str]:
        result = dispatch("Bench", f"fan-out {i}", env)
        return [f"{r.channel}: {r.status} {r.error or ''}" for r in result if not r.ok] + (
            [] if len(result) == n else [f"{len(result)} channels sent, expected {n}"]
        )

    return send


def targets_sender(url: str, n: int) -> Callable[[int], list[str]]:
    from mcp_push import dispatch

    warm, env = chronocat_targets_env(url, 1), chronocat_targets_env(url, n)

    def send(i: int) -> list[str]:
        result = dispatch("Bench", f"targets {i}", env if i else warm)
        return [f"{r.channel}: {r.status} {r.error or ''}" for r in result if not r.ok]

    return send


def apprise_sender(url: str, n: int, use_async: bool) -> Callable[[int], list[str]]:
    import apprise

    urls = apprise_urls(url, n)

    def send(i: int) -> list[str]:
        # A fresh Apprise object each time: one object throttles repeated sends to the same service
        # (ntfy, Bark, PushDeer wait 5.5 s between requests: `request_rate_per_sec`). URL parsing is
        # part of the measured send, as env parsing is for mcp-push.
        notifier = apprise.Apprise()
        for service in urls:
            if not notifier.add(service):
                return [f"apprise rejected {service}"]
        if use_async:
            ok = asyncio.run(notifier.async_notify(title="Bench", body=f"fan-out {i}"))
        else:
            ok = notifier.notify(title="Bench", body=f"fan-out {i}")
        return [] if ok else ["apprise reported a failure"]

    return send


def main() -> None:
    subject, url, n, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    if subject in ("mcp-push", "environ"):
        send = mcp_push_sender(url if subject == "mcp-push" else "-", n)
    elif subject == "targets":
        send = targets_sender(url, n)
    else:
        send = apprise_sender(url, n, use_async=subject == "apprise-async")
    walls, failed = [], []
    for i in range(runs + 1):  # the first send warms up (imports, spec loading, first connections)
        started = time.perf_counter()
        failed = send(i)
        wall = time.perf_counter() - started
        if i:
            walls.append(wall)
        else:
            first = wall
    print(json.dumps({"walls": walls, "first": first, "failed": failed, "channels": n}))


if __name__ == "__main__":
    main()
