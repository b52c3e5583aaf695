"""mcp-push beside QingLong's own notify.py and sendNotify.js, on the same 11 channels (channels.py
QINGLONG_CHANNELS) pointed at one sink answering after D ms. QingLong's files are not part of this
repository: they are read from the folder QINGLONG_SAMPLE_DIR names (bench/README.md says how to get
them); without them these measurements are "not run".

- one-shot script: a fresh interpreter runs `from notify import send; send(title, content)` and exits.
  Wall time and CPU time (user + system) of the whole process, and its peak RSS, from wait4; the
  script also reports how long its one send() took ("first send in a fresh process").
- warm fan-out: in one process, one untimed send, then RUNS timed sends.

Every subject runs in turn, round after round (a busy moment of the machine hits all alike), and
the ratios are mcp-push's median over QingLong's. The sink counts what arrived after each process, so
a subject that silently sent nothing (QingLong returns nothing) cannot look fast.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from channels import QINGLONG_CHANNELS, qinglong_env
from mcp_stdio import child_env
from sink import SinkProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV_VAR = "QINGLONG_SAMPLE_DIR"
MARK = "BENCH-TIMES"

PY_ONE_SHOT = (
    "import sys, time\n"
    "t0 = time.perf_counter()\n"
    "from notify import send\n"
    "t1 = time.perf_counter()\n"
    "send('Bench', 'one-shot')\n"
    "t2 = time.perf_counter()\n"
    f"sys.stderr.write('\\n{MARK} %r %r\\n' % (t1 - t0, t2 - t1))\n"
)

JS_ONE_SHOT = (
    "const t0 = process.hrtime.bigint();\n"
    "const { sendNotify } = require(process.env.BENCH_MODULE);\n"
    "const t1 = process.hrtime.bigint();\n"
    "sendNotify('Bench', 'one-shot').then(() => {\n"
    "  const t2 = process.hrtime.bigint();\n"
    f"  process.stderr.write(`\\n{MARK} ${{Number(t1 - t0) / 1e9}} ${{Number(t2 - t1) / 1e9}}\\n`);\n"
    "});\n"
)


def sample_dir() -> tuple[Path | None, str]:
    """QingLong's folder and '' when it holds both files, else None and why not."""
    value = os.environ.get(ENV_VAR)
    if not value:
        return None, f"{ENV_VAR} is not set"
    folder = Path(value)
    missing = [name for name in ("notify.py", "sendNotify.js") if not (folder / name).is_file()]
    if missing:
        return None, f"{ENV_VAR}={value} has no {' or '.join(missing)}"
    return folder, ""


def describe() -> str:
    """Which QingLong files were measured: git blob ids (comparable with `git ls-tree v2.21.0 sample/`)
    and the undici beside sendNotify.js."""
    import hashlib
    import json

    folder, why = sample_dir()
    if folder is None:
        return f"not run: {why}"
    parts = []
    for name in ("notify.py", "sendNotify.js"):
        data = (folder / name).read_bytes()
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object id
        parts.append(f"{name} blob {blob[:8]}")
    try:
        undici = json.loads((folder / "node_modules" / "undici" / "package.json").read_text(encoding="utf-8"))
        parts.append(f"undici {undici['version']}")
    except (OSError, ValueError, KeyError):
        parts.append("undici not found beside sendNotify.js")
    return ", ".join(parts)


@dataclass
class Subject:
    name: str
    language: str  # "python" | "node"
    ours: bool
    module_dir: Path  # the folder `notify` / `sendNotify` is imported from (cwd of the process)
    walls: list[float] = field(default_factory=list)  # one-shot: process wall (s)
    cpus: list[float] = field(default_factory=list)  # one-shot: process CPU (s)
    rss: list[float] = field(default_factory=list)  # one-shot: peak RSS (MiB)
    first: list[float] = field(default_factory=list)  # one-shot: the send() call alone (s)
    warm: list[float] = field(default_factory=list)  # warm fan-out: one send (s)
    missing: list[str] = field(default_factory=list)  # sends that did not reach the sink with every channel
    error: str | None = None


def subjects(ql: Path, temp: Path) -> list[Subject]:
    py_ours = temp / "mcp-push-py"  # empty: `notify` is the installed drop-in
    py_ours.mkdir()
    py_ql = temp / "qinglong-py"
    py_ql.mkdir()
    shutil.copy(ql / "notify.py", py_ql / "notify.py")
    js_ours = temp / "mcp-push-js"
    js_ours.mkdir()
    bundle = ROOT / "js" / "dist" / "sendNotify.js"
    out = [
        Subject("mcp-push `notify.py` (drop-in)", "python", True, py_ours),
        Subject("QingLong `notify.py`", "python", False, py_ql),
        Subject("mcp-push single-file bundle `sendNotify.js`", "node", True, js_ours),
        # In place: its `require('undici')` resolves from its own folder's node_modules.
        Subject("QingLong `sendNotify.js`", "node", False, ql),
    ]
    if bundle.exists():
        shutil.copy(bundle, js_ours / "sendNotify.js")
    else:
        out[2].error = "js/dist/sendNotify.js is missing: run `npm run build` in js/"
    return out


def _parse_times(stderr: str) -> tuple[float, float]:
    for line in reversed(stderr.splitlines()):
        if line.startswith(MARK):
            _, imported, sent = line.split()
            return float(imported), float(sent)
    raise RuntimeError(f"no timing line; stderr: {stderr[-400:]}")


def one_shot(subject: Subject, env: dict[str, str]) -> tuple[float, float, float, float]:
    """(wall s, CPU s, peak RSS MiB, send() s) of one fresh process."""
    if subject.language == "python":
        command = [sys.executable, "-c", PY_ONE_SHOT]
    else:
        command = [shutil.which("node") or "node", "-e", JS_ONE_SHOT]
        env = {**env, "BENCH_MODULE": str(subject.module_dir / "sendNotify.js")}
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=subject.module_dir, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"exit code {code}: {stderr[-400:]}")
    _, sent = _parse_times(stderr)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, sent


def warm_loop(subject: Subject, env: dict[str, str], runs: int) -> list[float]:
    """RUNS timed sends after one untimed one, in one process (send_loop.py / node_bench.js sendloop)."""
    if subject.language == "python":
        command = [sys.executable, str(HERE / "send_loop.py"), str(subject.module_dir), str(runs)]
    else:
        command = [shutil.which("node") or "node", str(HERE / "node_bench.js"), "sendloop",
                   str(subject.module_dir / "sendNotify.js"), str(runs)]
    done = subprocess.run(command, env=env, cwd=subject.module_dir, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"exit code {done.returncode}: {done.stderr[-400:]}")
    times = [line for line in done.stderr.splitlines() if line.startswith(MARK)]
    if not times:
        raise RuntimeError(f"no timing line; stderr: {done.stderr[-400:]}")
    return [float(x) for x in times[-1].split()[1:]]


def _check_arrivals(sink: SinkProcess, subject: Subject, sends: int, what: str) -> None:
    arrived = len(sink.arrivals())
    expected = sends * len(QINGLONG_CHANNELS)
    if arrived != expected:
        subject.missing.append(f"{what}: {arrived} of {expected} requests arrived")
    sink.reset()


def measure(rounds: int, warm_rounds: int, warm_runs: int, delay_ms: float,
            progress: Callable[[str], None] = lambda _: None) -> tuple[list[Subject], str]:
    """The four subjects, interleaved; returns them and '' (or [] and why not run)."""
    ql, why = sample_dir()
    if ql is None:
        return [], why
    with SinkProcess(delay_ms) as sink, tempfile.TemporaryDirectory(prefix="mcp-push-bench-ql-") as temp:
        env = child_env({**qinglong_env(sink.url), "MCP_PUSH_STATE_DIR": str(Path(temp) / "state")})
        todo = subjects(ql, Path(temp))
        for round_ in range(rounds + 1):  # round 0 untimed: bytecode caches, page cache
            progress(f"QingLong side by side: one-shot round {round_}/{rounds}")
            for subject in todo:
                if subject.error:
                    continue
                try:
                    wall, cpu, rss, first = one_shot(subject, env)
                except Exception as exc:  # reported in the table; the other subjects go on
                    subject.error = f"{type(exc).__name__}: {exc}"
                    continue
                _check_arrivals(sink, subject, 1, "one-shot")
                if round_:
                    subject.walls.append(wall)
                    subject.cpus.append(cpu)
                    subject.rss.append(rss)
                    subject.first.append(first)
        for round_ in range(warm_rounds):
            progress(f"QingLong side by side: warm fan-out round {round_ + 1}/{warm_rounds}")
            for subject in todo:
                if subject.error:
                    continue
                try:
                    subject.warm += warm_loop(subject, env, warm_runs)
                except Exception as exc:
                    subject.error = f"{type(exc).__name__}: {exc}"
                    continue
                _check_arrivals(sink, subject, warm_runs + 1, "warm fan-out")
    return todo, ""


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
