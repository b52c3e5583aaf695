"""CPU cost of one message, Python side, run by bench/run.py in a child process: plan() for every
channel at once (the env configures them all), after a warm-up, in CPU time; prints {perChannelUs, channels, errors}.

    python bench/plan_cost.py MS_PER_SAMPLE SAMPLES ENV_JSON_FILE
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    ms_per_sample, samples, env_file = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    with open(env_file, encoding="utf-8") as fh:
        env = json.load(fh)
    from mcp_push import plan

    entries = plan("Backup", "finished in 3 min", env=env)
    channels = {e["channel"] for e in entries}
    errors = [f"{e['channel']}: {e['error']}" for e in entries if "error" in e]
    warm_until = time.perf_counter() + 0.5
    while time.perf_counter() < warm_until:
        plan("Backup", "finished in 3 min", env=env)
    per_channel_us = []
    for _ in range(samples):
        calls = 0
        cpu_started = time.process_time()
        until = time.perf_counter() + ms_per_sample / 1000
        while time.perf_counter() < until:
            plan("Backup", "finished in 3 min", env=env)
            calls += 1
        # CPU time, not wall time: other processes on the machine do not inflate it.
        per_channel_us.append((time.process_time() - cpu_started) * 1e6 / calls / len(channels))
    print(json.dumps({"perChannelUs": per_channel_us, "channels": len(channels), "errors": errors}))


if __name__ == "__main__":
    main()
