"""Two versions of mcp-push's Node side, paired: plan() CPU per channel (section 2, from each version's
js/src), and the single-file bundle's first send in a fresh process and warm fan-out beside QingLong's
sendNotify.js (section 0, when QINGLONG_SAMPLE_DIR has it), each subject in turn every round, so a busy
machine slows all alike. Prints medians and per-round ratios. Not part of `nox -s bench`: it answers
"did this change help", on a machine too busy for absolute numbers.

    git archive main | tar -x -C /tmp/base && (cd /tmp/base/js && ln -s "$PWD/../../js/node_modules" . && node build.js)
    python bench/versus_node.py /tmp/base [--rounds 10] [--plan-rounds 4] [--warm-rounds 3] [--only plan,first,warm]

Each version's bundle is js/dist/sendNotify.js of its checkout (build both first).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import paired
from channels import qinglong_env
from mcp_stdio import child_env
from paired import ratios
from qinglong import QINGLONG_CHANNELS, Subject, one_shot, sample_dir, warm_loop
from sink import SinkProcess

HERE = Path(__file__).resolve().parent


def plan_cost(roots: dict[str, Path], rounds: int) -> None:
    def run(name: str, env_file: str) -> str:
        root = roots[name]
        return subprocess.run(["node", str(root / "bench" / "node_bench.js"), "plan", "200", "5", env_file],
                              env=child_env({}), capture_output=True, text=True, check=True, cwd=root).stdout

    title = f"plan() CPU per channel (Node), every channel at once, {rounds} rounds:"
    paired.plan_cost(list(roots), run, rounds, title, every_value=True)


def _subjects(roots: dict[str, Path], temp: Path) -> list[Subject]:
    out = []
    for name, root in roots.items():
        folder = temp / name.replace(" ", "-")
        folder.mkdir()
        shutil.copy(root / "js" / "dist" / "sendNotify.js", folder / "sendNotify.js")
        out.append(Subject(name, "node", True, folder))
    ql, _ = sample_dir()
    if ql is not None:
        out.append(Subject("QingLong", "node", False, ql))
    return out


def drop_in(roots: dict[str, Path], rounds: int, warm_rounds: int, warm_runs: int, parts: set[str]) -> None:
    with SinkProcess(200) as sink, tempfile.TemporaryDirectory() as temp:
        env = child_env({**qinglong_env(sink.url), "MCP_PUSH_STATE_DIR": str(Path(temp) / "state")})
        todo = _subjects(roots, Path(temp))
        expected = len(QINGLONG_CHANNELS)
        if "first" in parts:
            for round_ in range(rounds + 1):  # round 0 untimed
                for subject in todo:
                    wall, cpu, _rss, first = one_shot(subject, env)
                    if len(sink.arrivals()) != expected:
                        raise RuntimeError(f"{subject.name}: {len(sink.arrivals())} of {expected} requests arrived")
                    sink.reset()
                    if round_:
                        subject.walls.append(wall)
                        subject.cpus.append(cpu)
                        subject.first.append(first / 0.2)
            print(f"first send in a fresh process (wall / D), bundle, {rounds} rounds:")
            for s in todo:
                print(f"  {s.name}: {statistics.median(s.first):.3f} (process wall {statistics.median(s.walls):.3f} s, "
                      f"CPU {statistics.median(s.cpus):.3f} s)")
            new, base = todo[0], todo[1]
            print(f"  {new.name} / {base.name}: {ratios(new.first, base.first)}")
            for s in todo[:2]:
                if len(todo) > 2:
                    print(f"  {s.name} / QingLong: {ratios(s.first, todo[2].first)}")
        if "warm" in parts:
            for _ in range(warm_rounds):
                for subject in todo:
                    subject.warm += [w / 0.2 for w in warm_loop(subject, env, warm_runs)]
                    sink.reset()
            print(f"warm fan-out (wall / D), {warm_rounds} rounds of {warm_runs} sends:")
            for s in todo:
                print(f"  {s.name}: {statistics.median(s.warm):.4f}")
            if len(todo) > 2:
                for s in todo[:2]:
                    print(f"  {s.name} / QingLong: {ratios(s.warm, todo[2].warm)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path, help="the other version's checkout (its js/ is used)")
    parser.add_argument("--rounds", type=int, default=10, help="one-shot rounds (default 10)")
    parser.add_argument("--plan-rounds", type=int, default=4, help="plan() rounds (default 4)")
    parser.add_argument("--warm-rounds", type=int, default=3, help="warm fan-out rounds (default 3)")
    parser.add_argument("--warm-runs", type=int, default=7, help="timed sends per warm round (default 7)")
    parser.add_argument("--only", default="plan,first,warm", help="comma-separated: plan, first, warm")
    args = parser.parse_args()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    roots = {"this checkout": HERE.parent, "base": args.base.resolve()}
    if "plan" in parts:
        plan_cost(roots, args.plan_rounds)
    if parts & {"first", "warm"}:
        drop_in(roots, args.rounds, args.warm_rounds, args.warm_runs, parts)


if __name__ == "__main__":
    main()
