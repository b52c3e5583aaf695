"""What the paired comparisons (versus.py, versus_node.py) share: per-round ratios, and plan() CPU per channel
of each subject in turn every round, so a busy machine slows all alike."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Callable

from channels import every_channel_env


def ratios(ours: list[float], theirs: list[float]) -> str:
    """The median of the per-round ratios, and their range."""
    each = [a / b for a, b in zip(ours, theirs, strict=True)]
    return f"{statistics.median(each):.3f} ({min(each):.2f}–{max(each):.2f})"


def plan_cost(names: list[str], run: Callable[[str, str], str], rounds: int, title: str,
              every_value: bool = False) -> None:
    """Prints each subject's median plan() CPU per channel (every channel at once) and the first's ratio to
    the second's; run(name, env file) runs a plan bench (plan_cost.py, node_bench.js plan) and is its stdout."""
    env, _ = every_channel_env()
    per_channel: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(env, fh)
    try:
        for _ in range(rounds):
            for name in names:
                data = json.loads(run(name, fh.name).strip().splitlines()[-1])
                if data["errors"]:
                    raise RuntimeError(f"{name}: {data['errors'][0]}")
                per_channel[name].append(statistics.median(data["perChannelUs"]))
    finally:
        os.unlink(fh.name)
    print(title)
    for name, values in per_channel.items():
        shown = f"  ({' '.join(f'{v:.1f}' for v in values)})" if every_value else ""
        print(f"  {name}: {statistics.median(values):.1f} µs{shown}")
    new, base = names[:2]
    print(f"  {new} / {base}: {ratios(per_channel[new], per_channel[base])}")
