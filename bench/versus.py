"""Two versions of mcp-push's Python side, paired: the one-shot script of section 0 (and QingLong's
notify.py when QINGLONG_SAMPLE_DIR has it) and plan() CPU per channel (section 2), each subject in turn
every round, so a busy machine slows all alike; prints medians and per-round ratios. Not part of
`nox -s bench`: it answers "did this change help", on a machine too busy for absolute numbers.

    git archive main | tar -x -C /tmp/base            # the version to compare with, anywhere
    python bench/versus.py /tmp/base [--rounds 10] [--plan-rounds 4] [--warm-rounds 8]

Each version runs from its own `python/` folder (PYTHONPATH), with this interpreter and its packages.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paired
from channels import qinglong_env
from mcp_stdio import child_env
from paired import ratios
from qinglong import PY_ONE_SHOT, _parse_times, sample_dir
from sink import SinkProcess

HERE = Path(__file__).resolve().parent


def _one_shot(folder: Path, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one `from notify import send; send(...)` process."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", PY_ONE_SHOT], env={**env, "PYTHONPATH": str(folder)},
                                   cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        errors.seek(0)
        _parse_times(errors.read().decode(errors="replace"))  # raises when the script did not finish
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{folder}: the one-shot script failed")
    return wall, usage.ru_utime + usage.ru_stime


def one_shot(folders: dict[str, Path], rounds: int) -> None:
    ql, _ = sample_dir()
    subjects = dict(folders)
    if ql is not None:
        subjects["QingLong"] = ql
    walls: dict[str, list[float]] = {name: [] for name in subjects}
    cpus: dict[str, list[float]] = {name: [] for name in subjects}
    with SinkProcess(200) as sink, tempfile.TemporaryDirectory() as temp:
        env = child_env({**qinglong_env(sink.url), "MCP_PUSH_STATE_DIR": str(Path(temp) / "state")})
        for round_ in range(rounds + 1):  # round 0 untimed
            for name, folder in subjects.items():
                # QingLong's notify.py is imported from its folder; ours from PYTHONPATH, in an empty one.
                wall, cpu = _one_shot(folder, env, folder if name == "QingLong" else Path(temp))
                if len(sink.arrivals()) != 11:
                    raise RuntimeError(f"{name}: {len(sink.arrivals())} of 11 requests arrived")
                sink.reset()
                if round_:
                    walls[name].append(wall)
                    cpus[name].append(cpu)
    print(f"one-shot script, 11 channels, D = 200 ms, {rounds} rounds (medians; ratios per round):")
    for name in subjects:
        print(f"  {name}: wall {statistics.median(walls[name]):.3f} s, CPU {statistics.median(cpus[name]):.3f} s")
    new, base = list(folders)
    print(f"  {new} / {base}: wall {ratios(walls[new], walls[base])}, CPU {ratios(cpus[new], cpus[base])}")
    if "QingLong" in subjects:
        for name in folders:
            print(f"  {name} / QingLong: wall {ratios(walls[name], walls['QingLong'])}, "
                  f"CPU {ratios(cpus[name], cpus['QingLong'])}")


def plan_cost(folders: dict[str, Path], rounds: int) -> None:
    def run(name: str, env_file: str) -> str:
        return subprocess.run([sys.executable, str(HERE / "plan_cost.py"), "200", "5", env_file],
                              env={**os.environ, "PYTHONPATH": str(folders[name])}, capture_output=True, text=True,
                              cwd=tempfile.gettempdir(), check=True).stdout

    paired.plan_cost(list(folders), run, rounds, f"plan() CPU per channel, every channel at once, {rounds} rounds:")


def warm_fan_out(folders: dict[str, Path], rounds: int) -> None:
    """The warm fan-out of section 0 (bench/send_loop.py: one untimed send, then 7 timed), each version
    (and QingLong's notify.py) in turn every round, on one sink answering after 200 ms."""
    ql, _ = sample_dir()
    subjects = dict(folders)
    if ql is not None:
        subjects["QingLong"] = ql
    walls: dict[str, list[float]] = {name: [] for name in subjects}
    with SinkProcess(200) as sink:
        env = child_env(qinglong_env(sink.url))
        for _ in range(rounds):
            for name, folder in subjects.items():
                done = subprocess.run([sys.executable, str(HERE / "send_loop.py"), str(folder), "7"], env=env,
                                      cwd=folder, capture_output=True, text=True, timeout=300, check=True)
                line = [text for text in done.stderr.splitlines() if text.startswith("BENCH-TIMES")][-1]
                walls[name] += [float(wall) / 0.2 for wall in line.split()[1:]]
                if len(sink.arrivals()) != 8 * 11:
                    raise RuntimeError(f"{name}: {len(sink.arrivals())} of {8 * 11} requests arrived")
                sink.reset()
    print(f"warm fan-out, 11 channels, wall / D (D = 200 ms), {rounds} rounds of 7 sends (medians):")
    for name, values in walls.items():
        print(f"  {name}: {statistics.median(values):.4f}")
    if "QingLong" in walls:
        for name in folders:
            print(f"  {name} / QingLong: {statistics.median(walls[name]) / statistics.median(walls['QingLong']):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path, help="the other version's checkout (its python/ is used)")
    parser.add_argument("--rounds", type=int, default=10, help="one-shot rounds (default 10)")
    parser.add_argument("--plan-rounds", type=int, default=4, help="plan() rounds (default 4)")
    parser.add_argument("--warm-rounds", type=int, default=0, help="warm fan-out rounds (default 0: not run)")
    args = parser.parse_args()
    folders = {"this checkout": HERE.parent / "python", "base": args.base.resolve() / "python"}
    one_shot(folders, args.rounds)
    plan_cost(folders, args.plan_rounds)
    if args.warm_rounds:
        warm_fan_out(folders, args.warm_rounds)


if __name__ == "__main__":
    main()
